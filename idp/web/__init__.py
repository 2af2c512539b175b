"""Web plumbing shared by the IdP's screens: server-side sessions, security headers, error pages."""
