#!/bin/sh
# One-shot of docker-compose.yml (service trust-bundle, caddy image): writes the CA bundle with which the portal and
# the IdP's logout worker check the proxy's certificates when they call the IdP or the portal by their public names.
#
# Those calls go through the proxy (network aliases), over https, because the issuer the portal checks is the
# public https URL. The bundle is the image's system bundle (the public CAs that sign ACME certificates), plus the
# root of Caddy's internal CA when Caddy has one: it does for names it cannot get a public certificate for, such as
# the *.localhost defaults. Only the root *certificate* is copied, never its key, which stays in the proxy's volume.
#
# Caddy creates its internal CA while it loads its configuration, which may finish just after its admin endpoint
# (the proxy's health check) answers: with *.localhost names, wait for the root a little.
set -eu

root=${CADDY_ROOT_CERT:-/data/caddy/pki/authorities/local/root.crt}
system=${SYSTEM_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
out=${TRUST_BUNDLE:-/trust/ca-bundle.pem}
wait=${TRUST_WAIT:-30}

internal=no
for site in ${SITE_IDP:-} ${SITE_PORTAL:-}; do
	case "$site" in
	localhost | *.localhost) internal=yes ;;
	esac
done
if [ "$internal" = yes ]; then
	waited=0
	while [ ! -s "$root" ] && [ "$waited" -lt "$wait" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	if [ ! -s "$root" ]; then
		echo "no root certificate at $root after ${wait}s, although a site is under .localhost" >&2
		exit 1
	fi
fi

cat "$system" > "$out.tmp"
if [ -s "$root" ]; then
	printf '\n# Caddy internal CA (docker-compose proxy)\n' >> "$out.tmp"
	cat "$root" >> "$out.tmp"
	echo "trust bundle: public CAs and Caddy's internal root"
else
	echo "trust bundle: public CAs only"
fi
chmod 0644 "$out.tmp"
mv "$out.tmp" "$out"
