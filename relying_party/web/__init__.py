"""Web plumbing of the portal: sessions, security headers, errors, health, static files."""
