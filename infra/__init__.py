"""Infrastructure shared by every application of the suite (IdP, portal, auditors' console, development provider).

What each app needs and would otherwise copy lives here once: configuration loading, the database engine and its
transactions, the ephemeral store and server-side sessions, proxy handling, security headers, health checks, error
pages, safe redirects, Alembic helpers and the OpenID Connect client side. This package imports none of the apps;
the apps import it. Settings, models and event vocabularies stay in each app.
"""
