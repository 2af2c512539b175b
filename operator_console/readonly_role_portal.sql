-- The operators' console's role on the portal's database (after readonly_role_idp.sql created it; if the portal's
-- database is in another PostgreSQL cluster, run that file's CREATE ROLE and ALTER ROLE lines there first). Run as the
-- owner of the portal's database (psql -f readonly_role_portal.sql portal), then give the console
--   OPERATOR_CONSOLE_PORTAL_DATABASE_URL=postgresql+psycopg://operator_console:…@host/portal
-- The rolls' and the émargement's voter_identifier is granted because turnout per académie is counted by the domain
-- of that address (the pages show only counts); nothing of the ballot box, the receipts or the requests is.
GRANT USAGE ON SCHEMA public TO operator_console;
GRANT SELECT (id, code, label, opens_at, closes_at) ON portal_scrutin TO operator_console;
GRANT SELECT (scrutin_id, voter_identifier) ON portal_roll_entry TO operator_console;
GRANT SELECT (scrutin_id, voter_identifier, voted_at) ON portal_emargement TO operator_console;
