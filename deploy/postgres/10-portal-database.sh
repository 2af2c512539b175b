#!/bin/sh
# First start of the PostgreSQL volume only (docker-entrypoint-initdb.d): the portal gets a database of its own,
# beside the IdP's (POSTGRES_DB), so that neither application's tables share a schema with the other's.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<-SQL
	CREATE DATABASE portal OWNER "$POSTGRES_USER";
SQL
