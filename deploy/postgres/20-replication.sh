#!/bin/sh
# First start of the PostgreSQL volume only (docker-entrypoint-initdb.d): the standby of the postgres-replica
# profile may copy this server and stream its WAL, as the elections role, with its password (pgpass).
set -eu
echo "host replication elections all scram-sha-256" >> "$PGDATA/pg_hba.conf"
