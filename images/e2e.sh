#!/usr/bin/env bash
# End-to-end run of a rendered Docker environment with the local images:
#
#   .venv/bin/python images/build.py
#   .venv/bin/koyalite render --env dev -o /tmp/koyalite-dev
#   bash images/e2e.sh /tmp/koyalite-dev
#
# Fills secrets/ with random values (keys from secrets/README; existing files are kept), `docker compose up -d
# --wait` (Compose v2+ as the CLI plugin: scripts/compose.py builds it and prints the DOCKER_CONFIG that finds it),
# runs koyalite/probe on the project network with the URLs the provisioner gave the API service, restarts the
# stack, runs the probe with --check-persisted, `docker compose down` (never -v) and checks that every named volume
# is still there. Exit status: 0 when all of that passed.
#
# Options (environment):
#   E2E_PRIMARY_URL=auto   write through the LiteFS node whose LITEFS_CANDIDATE=true instead of
#                          KOYALITE_DATABASE_PRIMARY_URL (see images/README.md: the shared alias reaches replicas too)
#   E2E_KEEP=1             leave the stack up at the end
#   E2E_HEALTH_TIMEOUT_S   how long to wait for health (default 600)
set -euo pipefail

dir=${1:?usage: e2e.sh RENDER_DIR}
cd "$dir"
project=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' .env)
[ -n "$project" ] || { echo "e2e: no COMPOSE_PROJECT_NAME in $dir/.env" >&2; exit 2; }
timeout_s=${E2E_HEALTH_TIMEOUT_S:-600}
say() { printf '\n== %s\n' "$*"; }

say "secrets"
for key in $(sed -n 's/^  \([A-Za-z0-9_.-]*\)$/\1/p' secrets/README); do
  if [ ! -s "secrets/$key" ]; then
    head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "secrets/$key"
    echo "generated secrets/$key"
  fi
  # Compose (not swarm) bind-mounts secret files as they are: containers running as 10001 must read them.
  chmod 0644 "secrets/$key"
done

up() {
  if ! docker compose up -d --wait --wait-timeout "$timeout_s"; then
    echo "e2e: not healthy after ${timeout_s}s" >&2
    docker compose ps -a >&2
    for id in $(docker compose ps -aq); do docker logs --tail 30 "$id" >&2 || true; done
    return 1
  fi
  echo "all healthy after ${SECONDS}s"
}

# A failure on the way stops what this script started (volumes kept), unless E2E_KEEP=1 asks to look at it.
trap 'status=$?; if [ "$status" != 0 ] && [ "${E2E_KEEP:-}" != 1 ]; then docker compose down >&2 || true; fi' EXIT

say "docker compose up -d --wait"
up
docker compose ps

# The URLs the provisioner wired into the API service are what the probe checks.
api_env=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$project-api-1")
url() { printf '%s\n' "$api_env" | sed -n "s/^$1=//p"; }
primary=$(url KOYALITE_DATABASE_PRIMARY_URL)
replica=""
for id in $(docker compose ps -q); do
  envs=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$id")
  name=$(docker inspect -f '{{.Name}}' "$id"); name=${name#/}
  if printf '%s\n' "$envs" | grep -qx 'LITEFS_CANDIDATE=false' && [ -z "$replica" ]; then replica="http://$name:8080"; fi
  if printf '%s\n' "$envs" | grep -qx 'LITEFS_CANDIDATE=true' && [ "${E2E_PRIMARY_URL:-}" = auto ]; then primary="http://$name:8080"; fi
done
probe_env=(
  -e "PROBE_PRIMARY_URL=$primary"
  -e "KOYALITE_DATABASE_URL=$(url KOYALITE_DATABASE_URL)"
  -e "KOYALITE_S3_URL=$(url KOYALITE_S3_URL)"
  -e "KOYALITE_WEAVIATE_URL=$(url KOYALITE_WEAVIATE_URL)"
  -e "KOYALITE_FUNCTIONS_URL=$(url KOYALITE_FUNCTIONS_URL)"
  -e "KOYALITE_EVENTS_URL=$(url KOYALITE_EVENTS_URL)"
  -e WEAVIATE_API_KEY_FILE=/run/secrets/weaviate_api_key
  -e JWT_SECRET_FILE=/run/secrets/jwt_secret
  -v "$PWD/secrets/weaviate_api_key:/run/secrets/weaviate_api_key:ro"
  -v "$PWD/secrets/jwt_secret:/run/secrets/jwt_secret:ro"
)
[ -n "$replica" ] && probe_env+=(-e "PROBE_REPLICA_URL=$replica")
probe() {
  docker run --rm --network "$project" --user 10001:10001 --read-only --tmpfs /tmp --cap-drop ALL \
    "${probe_env[@]}" koyalite/probe:1.4.0 koyalite-probe "$@"
}

say "probe (primary $primary, replica ${replica:-none})"
out=$(probe) || { printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out"
token=$(printf '%s\n' "$out" | tail -1 | sed -n 's/.*"token":"\([^"]*\)".*/\1/p' | head -1)
[ -n "$token" ] || { echo "e2e: no token in the probe's output" >&2; exit 1; }

say "restart"
docker compose stop
up

say "probe --check-persisted --token $token"
probe --check-persisted --token "$token"

if [ "${E2E_KEEP:-}" = 1 ]; then
  say "E2E_KEEP=1: the stack stays up"
  exit 0
fi

say "docker compose down (no -v)"
expected=$(sed -n '/^volumes:/,$p' compose.yaml | sed -n 's/^    name: //p' | sort)
docker compose down
present=$(docker volume ls -q | sort)
missing=$(comm -23 <(printf '%s\n' "$expected") <(printf '%s\n' "$present"))
if [ -n "$missing" ]; then
  echo "e2e: volumes lost by docker compose down: $missing" >&2
  exit 1
fi
echo "volumes kept: $(printf '%s\n' "$expected" | tr '\n' ' ')"
say "e2e passed"
