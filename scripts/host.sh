#!/usr/bin/env bash
# Make this (Debian) host ready for the Docker tiers: Debian's docker.io and busybox-static installed, and a running
# dockerd (Compose v2+ is built from Go source by scripts/compose.py: Debian's docker-compose is v1, end-of-life); and for the local cluster's node tier (scripts/cluster_node.py): Debian's
# containerd, runc and CNI plugins (installed, not started: the cluster starts a containerd of its own), and gcc with
# glibc's static library for the pause binary; and Debian's Neovim, whose built-in LSP client tests `koyalite lsp`. Idempotent: a second run only checks (well under a second).
#
#   sudo bash scripts/host.sh        # as root; used by .ci/run and `make up`
#
# Nothing is pulled from an image registry: images/build.py builds every image locally.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /usr/bin/busybox ] && ! ldd /usr/bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v gcc >/dev/null || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e "/usr/lib/$(gcc -dumpmachine 2>/dev/null)/libc.a" ] || need+=(libc6-dev)
command -v openssl >/dev/null || need+=(openssl)
command -v nvim >/dev/null || need+=(neovim)  # the language server's test in a real editor (tests/test_lsp_neovim.py)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "host.sh: missing Debian packages ${need[*]}; run as root (apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "host.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log=${KOYALITE_DOCKERD_LOG:-/var/log/koyalite-dockerd.log}
  echo "host.sh: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "host.sh: dockerd did not come up in 60s; last lines of $log:" >&2; tail -20 "$log" >&2; exit 1; }
fi
echo "host.sh: docker $(docker version -f '{{.Server.Version}}') ready"
