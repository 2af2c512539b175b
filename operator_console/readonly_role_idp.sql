-- A PostgreSQL role for the operators' console on the IdP's database: it may read what the console counts, and
-- nothing else. Run as the owner of the IdP's database (psql -v password="'…'" -f readonly_role_idp.sql idp), then
-- readonly_role_portal.sql on the portal's, and give the console
--   OPERATOR_CONSOLE_DATABASE_URL=postgresql+psycopg://operator_console:…@host/idp
-- Column grants leave out every secret and personal column: no identifier, name, password or answer hash, token,
-- message payload. Re-run the GRANT lines after a migration that adds what the console reads.
CREATE ROLE operator_console LOGIN PASSWORD :password;
ALTER ROLE operator_console SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA public TO operator_console;
GRANT SELECT (id, type, occurred_at, data) ON audit_event TO operator_console;
GRANT SELECT (id, subject, role, session_epoch) ON voter TO operator_console;
GRANT SELECT (id, channel, status, created_at) ON outbox_message TO operator_console;
