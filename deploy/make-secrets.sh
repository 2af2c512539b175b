#!/bin/sh
# Creates the docker secrets that docker-compose.yml reads, under ./secrets/ (or the directory given as $1).
#
#   sudo sh deploy/make-secrets.sh            # from the directory of docker-compose.yml, once, before the first start
#
# A file that already exists is kept: running it again only adds what is missing, so it never changes a key in use
# (a new idp_hmac_key would make every stored vote-code, NUMEN and NIR hash unusable). Keep a backup of the directory.
# Needs openssl. Run as root, it gives the files to the containers' user (uid 10001) with mode 0400; otherwise do
# that yourself (sudo chown 10001:10001 secrets/*).
#
# The development FranceConnect-style provider's client list (fcdev_clients) names the IdP's public callback, from
# ELECTIONS_IDP_DOMAIN (environment, else ./.env, else idp.localhost): delete that file and run this again after
# changing the domain.
set -eu

dir=${1:-secrets}
domain=${ELECTIONS_IDP_DOMAIN:-}
if [ -z "$domain" ] && [ -f .env ]; then
	domain=$(sed -n 's/^[[:space:]]*ELECTIONS_IDP_DOMAIN[[:space:]]*=[[:space:]]*//p' .env | tail -n 1 | tr -d "\"' \r")
fi
domain=${domain:-idp.localhost}

umask 077
mkdir -p "$dir"
created=""

# missing NAME: true when secrets/NAME must be created (and says which files are kept).
missing() {
	if [ -e "$dir/$1" ]; then
		echo "kept     $dir/$1"
		return 1
	fi
	created="$created $1"
	echo "created  $dir/$1"
}

# 256 random bits, hex: no character that would need quoting in pgpass, JSON or a URL.
for name in postgres_password idp_secret_key idp_hmac_key idp_key_encryption_key portal_secret_key \
		operator_console_secret_key fc_client_secret fcdev_secret_key; do
	if missing "$name"; then
		openssl rand -hex 32 > "$dir/$name"
	fi
done

# libpq's password file: the applications' database URLs carry no password.
if missing pgpass; then
	printf 'postgres:5432:*:elections:%s\n' "$(cat "$dir/postgres_password")" > "$dir/pgpass"
fi

# The SMS gateway's token is the operator's, not ours: a placeholder the IdP accepts, to be replaced.
if missing sms_auth_token; then
	echo "a-remplacer-par-le-jeton-de-la-passerelle-sms" > "$dir/sms_auth_token"
	echo "         -> put the SMS gateway's auth token in $dir/sms_auth_token"
fi

# Development provider only: its ES256 key, so that both of its processes (and restarts) sign with one kid.
if missing fcdev_signing_key; then
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/fcdev_signing_key" 2> /dev/null
fi

# Development provider only: the IdP's registration there, with the same secret as IDP_FC_CLIENT_SECRET_FILE.
if missing fcdev_clients; then
	secret=$(cat "$dir/fc_client_secret")
	base="https://$domain/federation/franceconnect"
	cat > "$dir/fcdev_clients" <<-JSON
		{"clients": [{
		  "client_id": "portail-elections-idp",
		  "client_name": "Portail Élections",
		  "client_secret": "$secret",
		  "redirect_uris": ["$base/callback"],
		  "post_logout_redirect_uris": ["$base/logged-out"],
		  "sector": "$domain"
		}]}
	JSON
fi

for name in $created; do
	chmod 0400 "$dir/$name"
	if [ "$(id -u)" = 0 ]; then
		chown 10001:10001 "$dir/$name"
	fi
done
if [ -n "$created" ] && [ "$(id -u)" != 0 ]; then
	echo "now: sudo chown 10001:10001 $dir/* (the containers' user must read them)"
fi
