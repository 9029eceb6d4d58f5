#!/usr/bin/env bash
# Downloads, once, the Debian 12 packages that install auditd and its plugins into the cached Debian 12 root
# (tools/prepare-node-root.sh), for the test of Install-Auditd -PackagePath (the offline install). The list is
# what that root's own apt would install: auditd, audispd-plugins and every dependency the root lacks, at the
# versions its package lists name. .ci/run calls this after prepare-node-root.sh; a warm cache makes it a no-op.
# The tests never change the cache: each run copies what it needs.
#
#   tools/prepare-offline-packages.sh [cache-dir] [node-root] [package ...]
#       default /var/cache/aks-auditd-tests/debs-bookworm, /var/cache/aks-auditd-tests/debootstrap-bookworm,
#       auditd audispd-plugins (tools/prepare-image-packages.sh names others)
set -euo pipefail

cache="${1:-/var/cache/aks-auditd-tests/debs-bookworm}"
root="${2:-/var/cache/aks-auditd-tests/debootstrap-bookworm}"
shift $(( $# < 2 ? $# : 2 ))
packages=("$@")
[ "${#packages[@]}" -gt 0 ] || packages=(auditd audispd-plugins)
marker="$cache/.aks-auditd-debs-complete"
if [ -f "$marker" ]; then
  echo "prepare-offline-packages: $cache is ready"
  exit 0
fi
[ -f "$root/.aks-auditd-root-complete" ] || { echo "prepare-offline-packages: $root is missing: run tools/prepare-node-root.sh first" >&2; exit 1; }

# The root's apt answers from its own lists (a simulation: nothing is installed, nothing is fetched).
mapfile -t wanted < <(chroot "$root" apt-get install -s -q --no-install-recommends "${packages[@]}" |
  awk '/^Inst / { v = $3; gsub(/[()]/, "", v); print $2 "=" v }')
[ "${#wanted[@]}" -gt 0 ] || { echo "prepare-offline-packages: the root's apt lists nothing to install" >&2; exit 1; }

parent="$(dirname "$cache")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.debs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "prepare-offline-packages: downloading ${wanted[*]}"
# apt-get download writes into the current folder; run as root, apt hands the download to its _apt user.
chmod 755 "$work"
(cd "$work" && apt-get download -q "${wanted[@]}" >/dev/null)

rm -rf "$cache"
mv "$work" "$cache"
trap - EXIT
touch "$marker"
echo "prepare-offline-packages: $cache is ready ($(ls "$cache"/*.deb | wc -l) packages)"
