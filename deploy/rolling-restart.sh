#!/bin/sh
# Rolling restart of the web replicas behind the proxy, one at a time, without cutting a voter's request: to deploy
# a fix (a new image) or to restart them. docs/operators/runbook.md, "Restarting the web processes"; measured under
# load by `python -m benchmarks.faults --faults rolling-restart-proxy` (docs/operators/resilience.md).
#
#   deploy/rolling-restart.sh                        # idp-1 idp-2 portal-1 portal-2, in that order
#   deploy/rolling-restart.sh portal-1 portal-2      # some of them
#
# For each replica, in turn:
#   1. drain it: create its drain file (IDP_DRAIN_PATH / PORTAL_DRAIN_PATH); its /readyz answers 503 and the
#      proxy's next active health check (every 2 s, deploy/Caddyfile) takes it out of the rotation: nothing new is
#      sent to it, what it serves goes on;
#   2. wait until the proxy has no request in flight to it (Caddy's admin API, /reverse_proxy/upstreams);
#   3. recreate its container (the current image): SIGTERM, granian finishes what it still serves (at most 30 s,
#      stop_grace_period 35 s); the new container's tmpfs has no drain file;
#   4. wait until docker reports it healthy, then for the proxy's next check to put it back in the rotation.
# Never two replicas of one application at once: the other one serves meanwhile. Stops at the first failure (the
# replica it was on stays drained or stopped: see the runbook).
set -eu

COMPOSE=${COMPOSE:-docker compose}
# deploy/Caddyfile's health_interval (infra/web_server.py PROXY_HEALTH_INTERVAL).
HEALTH_INTERVAL=2
# The drain file of every web replica in docker-compose.yml (a tmpfs of the container).
DRAIN_PATH=/run/elections-drain/draining
# Longest wait for the requests in flight (granian's --workers-kill-timeout) and for a new replica to be healthy.
IN_FLIGHT_TIMEOUT=30
HEALTHY_TIMEOUT=180

if [ "$#" -eq 0 ]; then
	set -- idp-1 idp-2 portal-1 portal-2
fi

say() {
	printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"
}

in_flight() {
	# The proxy's count of requests in flight to "$1:8000" (empty if it does not know that upstream).
	$COMPOSE exec -T proxy wget -q -O - http://127.0.0.1:2019/reverse_proxy/upstreams |
		tr '{' '\n' | grep "\"address\":\"$1:8000\"" | sed 's/.*"num_requests":\([0-9]*\).*/\1/'
}

health() {
	docker inspect --format '{{.State.Health.Status}}' "$($COMPOSE ps -q "$1")"
}

for service in "$@"; do
	case "$service" in
	idp-[0-9]* | portal-[0-9]*) ;;
	*)
		echo "rolling-restart: $service is not a web replica behind the proxy (idp-N, portal-N)" >&2
		exit 2
		;;
	esac
	say "$service: draining"
	$COMPOSE exec -T "$service" touch "$DRAIN_PATH"
	sleep $((2 * HEALTH_INTERVAL + 1))
	waited=0
	while :; do
		count=$(in_flight "$service")
		if [ -z "$count" ]; then
			echo "rolling-restart: the proxy does not route to $service:8000" >&2
			exit 1
		fi
		[ "$count" -eq 0 ] && break
		if [ "$waited" -ge "$IN_FLIGHT_TIMEOUT" ]; then
			say "$service: still $count request(s) in flight after ${IN_FLIGHT_TIMEOUT} s, restarting anyway"
			break
		fi
		sleep 1
		waited=$((waited + 1))
	done
	say "$service: out of the rotation, nothing in flight; recreating it"
	$COMPOSE up -d --no-deps --force-recreate "$service"
	waited=0
	until [ "$(health "$service")" = healthy ]; do
		if [ "$waited" -ge "$HEALTHY_TIMEOUT" ]; then
			echo "rolling-restart: $service not healthy after ${HEALTHY_TIMEOUT} s; the other replicas serve" >&2
			exit 1
		fi
		sleep 2
		waited=$((waited + 2))
	done
	sleep $((2 * HEALTH_INTERVAL + 1))
	say "$service: healthy and back in the rotation"
done
say "done: $*"
