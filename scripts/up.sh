#!/usr/bin/env bash
# `make up`: build what the dev environment needs, at once, with progress, then deploy it and print its URLs.
#
#   bash scripts/up.sh          # after `make .venv/.installed` and `make host` (the Makefile runs those first)
#
# The Pulumi toolchain (scripts/toolchain.py) and the local images (images/build.py) are independent Go and Deno
# builds: they run side by side, so both cores stay busy (warm: seconds). Every 30 s a line says what each is doing
# (the last line of its log in build/up/). A failed build stops here with the tail of its log; nothing is deployed.
# dev deploys to Docker, which needs no Kubernetes provider: its build (~13 min cold on 2 cores) is left for
# `make toolchain`, and a Kubernetes environment deployed without it stops with that hint (exit 4).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
logs=build/up
mkdir -p "$logs"
start=$SECONDS

"$bin/python" scripts/toolchain.py --skip kubernetes >"$logs/toolchain.log" 2>&1 & toolchain=$!
"$bin/python" images/build.py >"$logs/images.log" 2>&1 & images=$!

last() { tail -n 1 "$1" 2>/dev/null | cut -c1-100; }
while kill -0 "$toolchain" 2>/dev/null || kill -0 "$images" 2>/dev/null; do
  for _ in $(seq 1 30); do
    kill -0 "$toolchain" 2>/dev/null || kill -0 "$images" 2>/dev/null || break
    sleep 1
  done
  printf 'up: %4ds  toolchain: %s\n           images: %s\n' "$((SECONDS - start))" "$(last "$logs/toolchain.log")" "$(last "$logs/images.log")"
done
status=0
wait "$toolchain" || { echo "up: the toolchain build failed (log: $logs/toolchain.log):" >&2; tail -30 "$logs/toolchain.log" >&2; status=1; }
wait "$images" || { echo "up: the image build failed (log: $logs/images.log):" >&2; tail -30 "$logs/images.log" >&2; status=1; }
[ "$status" = 0 ] || exit 1
echo "up: toolchain and images ready after $((SECONDS - start))s"

"$bin/koyalite" secrets generate --env dev koyalite.yaml
"$bin/koyalite" up --env dev --yes koyalite.yaml
echo "up: dev deployed after $((SECONDS - start))s"
if ! "$bin/python" scripts/toolchain.py --check >/dev/null 2>&1; then
  echo "up: the Kubernetes environments (staging, prod) also need the kubernetes provider: make toolchain"
fi
