"""Web plumbing of the portal that is its own (error pages, static files); the rest comes from :mod:`infra`."""
