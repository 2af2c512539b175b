-- A PostgreSQL role for the auditors' console: it may read what the console shows, and nothing else.
-- Run as the owner of the IdP's database (psql -v password="'…'" -f readonly_role.sql idp), then give the console
-- AUDIT_CONSOLE_DATABASE_URL=postgresql+psycopg://audit_console:…@host/idp.
-- Column grants leave out every secret and personal column: no password or answer hash, no identifier, no name,
-- no NUMEN/NIR hash, no token digest. Re-run the GRANT lines after a migration that adds tables the console reads.
CREATE ROLE audit_console LOGIN PASSWORD :password;
ALTER ROLE audit_console SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA public TO audit_console;
GRANT SELECT ON audit_event, audit_seal TO audit_console;
GRANT SELECT (id, subject, role, session_epoch) ON voter TO audit_console;
GRANT SELECT (id, kind, jti, grant_id, client_id, voter_id, subject, scope, issued_at, expires_at, revoked_at,
              rotated_at) ON oidc_token TO audit_console;
