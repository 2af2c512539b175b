# One image for every Python process of the suite: the IdP, the portal, their jobs and workers, and the development
# FranceConnect-style provider. Which one runs is the compose service's command; the default is the IdP (granian).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the project as a package (templates, migrations, CAPTCHA voices ship as package data), then drop the
# sources: the running code is the installed distribution, nothing else. .dockerignore keeps secrets/, .venv and
# the tests out of the build context.
WORKDIR /src
COPY . .
# The French state's design system (DSFR), from the npm registry at the version frontend/package-lock.json pins:
# npm runs here and is removed in the same layer; the pages' static files stay in /opt/dsfr, which the IdP and the
# portal serve under /static/dsfr/ (IDP_DSFR_DIR, PORTAL_DSFR_DIR), and the ballot page's encryption module, bundled by
# esbuild (PORTAL_BALLOT_JS_DIR). libsodium stays: the encrypted ballot box's
# arithmetic (votecrypto, through pysodium); and libdecaf, with which the portal verifies ballots (votecrypto.decaf).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsodium23 libdecaf0 nodejs npm \
    && npm ci --prefix frontend --no-audit --no-fund \
    && npm run build --prefix frontend \
    && mkdir -p /opt/dsfr /opt/ballot \
    && cp -r frontend/node_modules/@gouvfr/dsfr/dist frontend/node_modules/@gouvfr/dsfr/package.json /opt/dsfr/ \
    && cp frontend/dist/ballot.js /opt/ballot/ \
    && apt-get purge -y --auto-remove nodejs npm \
    && rm -rf /var/lib/apt/lists/* /root/.npm
ENV IDP_DSFR_DIR=/opt/dsfr/dist \
    PORTAL_DSFR_DIR=/opt/dsfr/dist \
    PORTAL_BALLOT_JS_DIR=/opt/ballot
RUN pip install . && cd / && rm -rf /src

# A fixed, unprivileged uid: the operator makes the docker secrets readable by it (see docs/operators/deployment.md).
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin elections

# --- deploy: portal client credentials (docker-compose.yml, volume portal-client) ---------------------------------
# The job idp-register-portal writes the portal's client secret there and the portal reads it. Docker initialises an
# empty named volume from the image's directory, owner and mode included, so the unprivileged user can write it.
RUN install -d -o 10001 -g 10001 -m 0700 /var/lib/portail-elections/portal-client
RUN install -d -o 10001 -g 10001 -m 0700 /var/lib/portail-elections/console-client
# --- end deploy ---------------------------------------------------------------------------------------------------
USER 10001:10001
WORKDIR /app

EXPOSE 8000
# granian (WSGI) calls the application factory itself (--factory); settings come from IDP_* variables. Keep-alive:
# the application keeps an idle connection 60 s (--http1-header-read-timeout), longer than the proxy's 30 s
# (deploy/Caddyfile), so that the proxy is the side that closes it (infra/web_server.py says why).
CMD ["granian", "--interface", "wsgi", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "3", "--blocking-threads", "4", "--http", "1", "--http1-header-read-timeout", "60000", \
     "--respawn-failed-workers", "--respawn-interval", "12", "--workers-kill-timeout", "30", "--no-access-log", "idp:create_app"]
