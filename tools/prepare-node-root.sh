#!/usr/bin/env bash
# Builds, once, the Debian 12 root that the Install-Auditd tests install into through chroot, and caches it.
# .ci/run calls this before the tests; a warm cache makes it a no-op. The tests never change the cache: each
# run copies it to a scratch directory first.
#
#   tools/prepare-node-root.sh [cache-dir]      default /var/cache/aks-auditd-tests/debootstrap-bookworm
#
# The mirror is the one apt on this machine uses (first URI in /etc/apt/sources.list.d/*.sources or
# /etc/apt/sources.list), unless AKS_AUDITD_DEBIAN_MIRROR names another.
set -euo pipefail

cache="${1:-/var/cache/aks-auditd-tests/debootstrap-bookworm}"
marker="$cache/.aks-auditd-root-complete"
if [ -f "$marker" ]; then
  echo "prepare-node-root: $cache is ready"
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || { echo "prepare-node-root: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

mirror="${AKS_AUDITD_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $1}' | grep -v security | head -n1 || true)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

# Build next to the cache and rename at the end, so an interrupted build never looks complete.
parent="$(dirname "$cache")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.build.XXXXXX")"
trap 'umount -R "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "prepare-node-root: debootstrap bookworm from $mirror (a few minutes, once)"
# minbase: dpkg, apt and coreutils, like a minimal node image; auditd comes later from Install-Auditd.
debootstrap --variant=minbase bookworm "$work/root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$work/root/debootstrap/debootstrap.log" ] && tail -n 30 "$work/root/debootstrap/debootstrap.log" >&2
  exit 1
}
# What apt needs later inside the chroot to reach the same mirror.
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
printf 'deb %s bookworm main\n' "$mirror" > "$work/root/etc/apt/sources.list"
apt-get -o RootDir="$work/root" clean >/dev/null 2>&1 || true

rm -rf "$cache"
mv "$work/root" "$cache"
touch "$marker"
echo "prepare-node-root: $cache is ready"
