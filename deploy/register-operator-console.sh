#!/bin/sh
# One-shot of docker-compose.yml (service idp-register-console, IdP image): registers the operators' console at the
# IdP as the first-party client $OPERATOR_CONSOLE_CLIENT_ID (idp operators console-client), and hands the secret the
# IdP draws to the console through $OPERATOR_CONSOLE_CLIENT_SECRET_FILE, in a volume that only this job writes and
# that the console mounts read-only. The secret is never printed: it goes straight into that file.
#
# Idempotent: once the client exists (idp clients show) and its secret file is there, it does nothing. A client
# whose secret file was lost cannot be recovered (only the secret's digest is stored): the job stops and says so.
set -eu

: "${OPERATOR_CONSOLE_PUBLIC_URL:?}" "${OPERATOR_CONSOLE_CLIENT_ID:?}" "${OPERATOR_CONSOLE_CLIENT_SECRET_FILE:?}"
console=${OPERATOR_CONSOLE_PUBLIC_URL%/}
client_id=$OPERATOR_CONSOLE_CLIENT_ID
secret_file=$OPERATOR_CONSOLE_CLIENT_SECRET_FILE

if problem=$(idp clients show "$client_id" 2>&1 > /dev/null); then
	if [ -s "$secret_file" ]; then
		echo "client $client_id already registered"
		exit 0
	fi
	echo "client $client_id is registered but $secret_file is missing: its secret is lost." >&2
	echo "Disable it (idp clients disable $client_id) and register the console under another client id." >&2
	exit 1
fi
case "$problem" in
*"no client"*) ;;
*)
	echo "$problem" >&2
	exit 1
	;;
esac

umask 077
idp operators console-client --url "$console" --client-id "$client_id" |
	sed -n 's/^client_secret: //p' > "$secret_file.tmp"
if [ ! -s "$secret_file.tmp" ]; then
	rm -f "$secret_file.tmp"
	echo "the client $client_id was not registered (see above)" >&2
	exit 1
fi
mv "$secret_file.tmp" "$secret_file"
echo "client $client_id registered; its secret is in $secret_file"
