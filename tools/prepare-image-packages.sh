#!/usr/bin/env bash
# Downloads, once, the Debian 12 packages that the local image (image/Build-LocalImage.ps1) adds to the cached
# Debian 12 root so that it has what the Dockerfile's .NET runtime base image has beside the runtime: OpenSSL
# (libssl3), which .NET's TLS loads. The fleet-status component's API client speaks HTTPS to the API server, and
# the pod e2e proves it in the image. The versions are the ones the root's own apt lists name (the download is
# tools/prepare-offline-packages.sh's, with another list). .ci/run calls this after prepare-node-root.sh; a warm
# cache makes it a no-op. The image build copies the packages, never changes them.
#
#   tools/prepare-image-packages.sh [cache-dir] [node-root]
#       default /var/cache/aks-auditd-tests/image-debs-bookworm and /var/cache/aks-auditd-tests/debootstrap-bookworm
set -euo pipefail
exec bash "$(dirname "$0")/prepare-offline-packages.sh" \
  "${1:-/var/cache/aks-auditd-tests/image-debs-bookworm}" "${2:-/var/cache/aks-auditd-tests/debootstrap-bookworm}" libssl3
