#!/bin/sh
# One-shot of docker-compose.yml (service idp-register-portal, IdP image): registers the voter portal at the IdP as
# the first-party client $PORTAL_CLIENT_ID, and hands the secret the IdP draws to the portal through
# $PORTAL_CLIENT_SECRET_FILE, in a volume that only this job writes and that the portal mounts read-only. The secret
# is never printed: the IdP shows it once, on this job's standard output, which goes straight into that file.
#
# Idempotent: once the client exists (idp clients show) and its secret file is there, it does nothing. A client
# whose secret file was lost cannot be recovered (only the secret's digest is stored): the job stops and says so.
set -eu

: "${PORTAL_PUBLIC_URL:?}" "${PORTAL_CLIENT_ID:?}" "${PORTAL_CLIENT_SECRET_FILE:?}"
portal=${PORTAL_PUBLIC_URL%/}
secret_file=$PORTAL_CLIENT_SECRET_FILE

if problem=$(idp clients show "$PORTAL_CLIENT_ID" 2>&1 > /dev/null); then
	if [ -s "$secret_file" ]; then
		echo "client $PORTAL_CLIENT_ID already registered"
		exit 0
	fi
	echo "client $PORTAL_CLIENT_ID is registered but $secret_file is missing: its secret is lost." >&2
	echo "Disable it (idp clients disable $PORTAL_CLIENT_ID) and register the portal under another PORTAL_CLIENT_ID." >&2
	exit 1
fi
case "$problem" in
*"no client"*) ;;
*)
	# The IdP could not answer (database, configuration): say why, register nothing.
	echo "$problem" >&2
	exit 1
	;;
esac

umask 077
idp clients create --name "Portail Élections" --first-party --client-id "$PORTAL_CLIENT_ID" \
	--redirect-uri "$portal/connexion/retour" \
	--post-logout-redirect-uri "$portal/deconnexion/fin" \
	--backchannel-logout-uri "$portal/backchannel-logout" |
	sed -n 's/^client_secret: //p' > "$secret_file.tmp"
if [ ! -s "$secret_file.tmp" ]; then
	rm -f "$secret_file.tmp"
	echo "the client $PORTAL_CLIENT_ID was not registered (see above)" >&2
	exit 1
fi
mv "$secret_file.tmp" "$secret_file"
echo "client $PORTAL_CLIENT_ID registered; its secret is in $secret_file"
