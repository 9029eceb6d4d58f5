#!/usr/bin/env bash
# Downloads, once, the Debian 12 packages that the local image (image/Build-LocalImage.ps1) adds to the cached
# Debian 12 root so that it has what the Dockerfile's .NET runtime base image has beside the runtime: OpenSSL
# (libssl3), which .NET's TLS loads. The fleet-status component's API client speaks HTTPS to the API server, and
# the pod e2e proves it in the image. The versions are the ones the root's own apt lists name. .ci/run calls this
# after prepare-node-root.sh; a warm cache makes it a no-op. The image build copies the packages, never changes them.
#
#   tools/prepare-image-packages.sh [cache-dir] [node-root]
#       default /var/cache/aks-auditd-tests/image-debs-bookworm and /var/cache/aks-auditd-tests/debootstrap-bookworm
set -euo pipefail

cache="${1:-/var/cache/aks-auditd-tests/image-debs-bookworm}"
root="${2:-/var/cache/aks-auditd-tests/debootstrap-bookworm}"
marker="$cache/.aks-auditd-debs-complete"
if [ -f "$marker" ]; then
  echo "prepare-image-packages: $cache is ready"
  exit 0
fi
[ -f "$root/.aks-auditd-root-complete" ] || { echo "prepare-image-packages: $root is missing: run tools/prepare-node-root.sh first" >&2; exit 1; }

# The root's apt answers from its own lists (a simulation: nothing is installed, nothing is fetched).
mapfile -t wanted < <(chroot "$root" apt-get install -s -q --no-install-recommends libssl3 |
  awk '/^Inst / { v = $3; gsub(/[()]/, "", v); print $2 "=" v }')
[ "${#wanted[@]}" -gt 0 ] || { echo "prepare-image-packages: the root's apt lists nothing to install" >&2; exit 1; }

parent="$(dirname "$cache")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.image-debs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "prepare-image-packages: downloading ${wanted[*]}"
# apt-get download writes into the current folder; run as root, apt hands the download to its _apt user.
chmod 755 "$work"
(cd "$work" && apt-get download -q "${wanted[@]}" >/dev/null)

rm -rf "$cache"
mv "$work" "$cache"
trap - EXIT
touch "$marker"
echo "prepare-image-packages: $cache is ready ($(ls "$cache"/*.deb | wc -l) packages)"
