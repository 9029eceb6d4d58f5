#!/usr/bin/env bash
# Builds, once, the disk of a real systemd node that the VM tests boot under qemu, and caches it.
# build.ps1 (tasks vm and test) calls this; a warm cache makes it a no-op. The tests never change the cache:
# each run boots a sparse copy of the disk.
#
#   tools/prepare-systemd-node.sh [cache-dir]      default /var/cache/aks-auditd-tests/systemd-node
#
# What it holds (all Debian 12 packages, from the mirror apt on this machine uses):
#   disk.img      ext4 root: the debootstrap root of tools/prepare-node-root.sh plus linux-image-amd64, systemd,
#                 systemd-sysv, udev and libicu72 (for .NET). No auditd: the tests install it with Install-Auditd
#                 from /var/cache/aks-auditd-offline, a local apt repository of auditd, audispd-plugins and their
#                 dependencies, because the VM has no network.
#   vmlinuz, initrd.img   the kernel and initrd from that root, for qemu's -kernel/-initrd.
#   .inputs       a hash of this script and the debootstrap root's marker; the disk is rebuilt when it changes.
# The module, PowerShell and the .NET runtime are not in it: they change with every build, so the runner
# (tests/vm/Invoke-SystemdNode.ps1) hands them to each boot on a second, small disk.
set -euo pipefail

cache="${1:-/var/cache/aks-auditd-tests/systemd-node}"
here="$(cd "$(dirname "$0")" && pwd)"
base_root="/var/cache/aks-auditd-tests/debootstrap-bookworm"

base_packages=(linux-image-amd64 systemd systemd-sysv udev libicu72)
offline_packages=(auditd audispd-plugins)

bash "$here/prepare-node-root.sh" "$base_root" >/dev/null
inputs="$(cat "$0" "$base_root/.aks-auditd-root-complete" | sha256sum | cut -d' ' -f1)"
if [ -f "$cache/.inputs" ] && [ "$(cat "$cache/.inputs")" = "$inputs" ] && [ -f "$cache/disk.img" ]; then
  echo "prepare-systemd-node: $cache is ready"
  exit 0
fi

for tool in mkfs.ext4 chroot apt-get dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || { echo "prepare-systemd-node: $tool is missing (e2fsprogs, coreutils, apt, dpkg)" >&2; exit 1; }
done

# Build next to the cache and rename at the end, so an interrupted build never looks complete.
parent="$(dirname "$cache")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.systemd-node.XXXXXX")"
root="$work/root"
cleanup() {
  for mount in "$root/dev" "$root/proc" "$root/sys"; do
    mountpoint -q "$mount" 2>/dev/null && umount -l "$mount" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "prepare-systemd-node: building $cache (a few minutes, once)"
cp -a "$base_root" "$root"
rm -f "$root/.aks-auditd-root-complete"

download() {
  # apt on this machine resolves what the root lacks (its dpkg status) and fetches only the .deb files.
  local into="$1"; shift
  mkdir -p "$into/partial"
  local args=(-q -y --download-only --no-install-recommends
    -o Dir::State::status="$root/var/lib/dpkg/status" -o Dir::Cache::archives="$into" install "$@")
  if ! apt-get "${args[@]}" >"$work/apt.log" 2>&1; then
    # Stale package lists on this machine: refresh them once and try again.
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get "${args[@]}" >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; exit 1; }
  fi
  rm -rf "$into/partial" "$into/lock"
}

in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
# Installing must not start services inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"

download "$work/base-debs" "${base_packages[@]}"
mkdir -p "$root/tmp/debs"
cp "$work/base-debs"/*.deb "$root/tmp/debs/"
# The initrd is made once, at the end: the kernel's and initramfs-tools' own hooks would make it three times.
# (update-initramfs.conf is initramfs-tools' conffile: placed first, and kept by --force-confold, it turns the
# trigger off; INITRD=No turns off the kernel's hook.)
mkdir -p "$root/etc/initramfs-tools"
printf 'update_initramfs=no\nbackup_initramfs=no\n' >"$root/etc/initramfs-tools/update-initramfs.conf"
# dpkg -i cannot order pre-dependencies: systemd waits for libssl3 to be configured, systemd-sysv for systemd. So
# each pass installs what is not installed yet, until nothing is left (three passes on Debian 12).
for pass in 1 2 3 4; do
  in_root env INITRD=No sh -c '
    for deb in /tmp/debs/*.deb; do
      package=$(dpkg-deb -f "$deb" Package)
      [ "$(dpkg-query -W -f="\${db:Status-Status}" "$package" 2>/dev/null)" = installed ] || echo "$deb"
    done >/tmp/debs/pending
    [ -s /tmp/debs/pending ] || exit 0
    xargs dpkg -i --force-confold </tmp/debs/pending; dpkg --configure -a; exit 1' >>"$work/dpkg.log" 2>&1 && break
done
in_root dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${base_packages[@]}" | awk '$2 != "installed" { print "prepare-systemd-node: " $1 " is not installed"; bad = 1 } END { exit bad }' >&2
rm -rf "$root/tmp/debs"
printf 'update_initramfs=yes\nbackup_initramfs=no\n' >"$root/etc/initramfs-tools/update-initramfs.conf"
kernel_version="$(ls "$root/lib/modules" | sort -V | tail -n1)"
in_root update-initramfs -c -k "$kernel_version" >>"$work/dpkg.log" 2>&1 || { tail -n 30 "$work/dpkg.log" >&2; exit 1; }

# The offline apt repository Install-Auditd installs from: a Packages index written from each .deb's own fields.
offline="$root/var/cache/aks-auditd-offline"
download "$offline" "${offline_packages[@]}"
(
  cd "$offline"
  for deb in *.deb; do
    dpkg-deb -f "$deb"
    printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$deb" "$(stat -c %s "$deb")" "$(sha256sum "$deb" | cut -d' ' -f1)"
  done >Packages
)
printf 'deb [trusted=yes] file:/var/cache/aks-auditd-offline ./\n' >"$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
in_root apt-get -q update >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; exit 1; }

# The node: a hostname, the payload disk at /aks, and the one unit that runs the scenario.
echo aks-vm-node >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 aks-vm-node\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw 0 1\n/dev/vdb /aks ext4 ro,nofail,x-systemd.device-timeout=60s 0 0\n' >"$root/etc/fstab"
mkdir -p "$root/aks"
cat >"$root/etc/systemd/system/aks-scenario.service" <<'EOF'
[Unit]
Description=AksAuditd VM scenario (from the payload disk)
After=local-fs.target
RequiresMountsFor=/aks

[Service]
# simple, not oneshot: the scenario waits for the boot to finish (systemctl is-system-running --wait), which a
# oneshot unit that is part of that boot would block.
Type=simple
ExecStart=/bin/sh /aks/boot.sh
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/aks-scenario.service "$root/etc/systemd/system/multi-user.target.wants/aks-scenario.service"
# A getty on the console fails with EIO and floods it; apt's timers would take the dpkg lock mid-test.
for unit in serial-getty@ttyS0.service serial-getty@ttyS1.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
: >"$root/etc/machine-id"

for mount in "$root/dev" "$root/proc" "$root/sys"; do umount -l "$mount"; done
kernel="$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n1)"
initrd="$(ls "$root"/boot/initrd.img-* | sort -V | tail -n1)"
mkdir -p "$work/out"
cp "$kernel" "$work/out/vmlinuz"
cp "$initrd" "$work/out/initrd.img"
# 3 GiB, sparse: the root takes about 700 MB; the rest is room for auditd's logs and the installed packages.
mkfs.ext4 -q -F -L aks-node -d "$root" "$work/out/disk.img" 3G
echo "$inputs" >"$work/out/.inputs"

rm -rf "$cache"
mv "$work/out" "$cache"
echo "prepare-systemd-node: $cache is ready ($(du -sh --apparent-size "$cache/disk.img" | cut -f1) disk, $(du -sh "$cache/disk.img" | cut -f1) used)"
