#!/usr/bin/env bash
# Records what container churn costs in audit records, with and without the Kubernetes noise pack, on this
# machine's real kernel and auditd: podman with runc stands in for kubelet with containerd (podman ~ kubelet and
# containerd, conmon ~ containerd-shim, runc is runc).
#
#   tools/record-churn-log.sh <output-dir> [rounds]
#
# Writes <output-dir>/before/audit.log (a broad rule set: every execve, mounts, namespaces, permission changes, and
# the CIS pack) and <output-dir>/after/audit.log (the same behind rules/kubernetes-noise/10-kubernetes-noise.rules,
# plus two stand-in lines that name podman and conmon as the pack names kubelet and containerd-shim). Each log
# holds the same workload: one long-running container with exec probes, and short-lived containers started and
# removed, all named aks-auditd-churn-*; then runc run by hand from a login session (auid 1000), which the pack
# must keep. Measure both with Measure-AuditEvent -GroupBy Executable.
#
# Holds the machine-wide kernel lock; starts a private auditd (-c <temp confdir>); restores the kernel (auditctl -D,
# the enabled flag it found) and stops the daemon. Never sets -e 2 or -f 2. Containers and the rootfs copy are
# removed. The kernel is shared: other processes' events (auid unset) land in both logs too.
set -euo pipefail

LOCK=/run/aks-auditd-tests.kernel.lock
if [ "${AKSAUDITD_KERNEL_LOCK_HELD:-}" != 1 ]; then
  exec flock "$LOCK" env AKSAUDITD_KERNEL_LOCK_HELD=1 "$0" "$@"
fi

out=${1:?usage: record-churn-log.sh <output-dir> [rounds]}
rounds=${2:-6}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/before" "$out/after"
out=$(cd "$out" && pwd)

if pgrep -x auditd >/dev/null; then
  echo "record-churn-log: an auditd is already running; refusing to start a second one" >&2
  exit 3
fi
if [ "$(auditctl -s | awk '$1 == "pid" { print $2 }')" != 0 ] || [ "$(auditctl -l)" != "No rules" ]; then
  echo "record-churn-log: the kernel has rules or an audit daemon; refusing to change it" >&2
  exit 3
fi
enabled_before=$(auditctl -s | awk '$1 == "enabled" { print $2 }')
[ "$enabled_before" = 2 ] && { echo "record-churn-log: the kernel's rules are immutable" >&2; exit 3; }

work=$(mktemp -d /tmp/aks-auditd-churn.XXXXXX)
conf=$work/conf
rootfs=$work/rootfs
mkdir -p "$conf/plugins.d"
printf '[containers]\ndefault_ulimits = []\n' > "$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf
pid=

restore() {
  set +e
  podman ps -a --format '{{.Names}}' 2>/dev/null | grep '^aks-auditd-churn-' | xargs -r podman rm -f >/dev/null 2>&1
  auditctl -D >/dev/null 2>&1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  auditctl -e "$enabled_before" >/dev/null 2>&1
  rm -rf "$work"
}
trap restore EXIT

# A copy of the cached Debian 12 root (read-only: never changed in place) is the containers' root file system.
cp -a /var/cache/aks-auditd-tests/debootstrap-bookworm "$rootfs"

broad_rules() {
  cat <<'RULES'
-a always,exit -F arch=b64 -S execve,execveat -k exec
-a always,exit -F arch=b64 -S mount,umount2,pivot_root -k mount
-a always,exit -F arch=b64 -S unshare,setns -k namespaces
-a always,exit -F arch=b64 -S fchmod,fchmodat,fchown,fchownat -k perm
RULES
  grep '^-' "$repo/rules/cis/30-cis.rules"
}

record() {
  local name=$1 rules=$2
  cat > "$conf/auditd.conf" <<CONF
local_events = yes
write_logs = yes
log_file = $out/$name/audit.log
log_group = root
log_format = RAW
flush = DATA
freq = 0
max_log_file = 256
num_logs = 2
priority_boost = 0
name_format = NONE
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
use_libwrap = no
tcp_listen_queue = 5
tcp_max_per_addr = 1
tcp_client_max_idle = 0
transport = TCP
distribute_network = no
q_depth = 2000
overflow_action = IGNORE
max_restarts = 10
plugin_dir = $conf/plugins.d
end_of_event_timeout = 2
CONF
  chmod 640 "$conf/auditd.conf"
  rm -f "$out/$name"/audit.log*
  /sbin/auditd -c "$conf"
  for _ in $(seq 1 100); do
    pid=$(auditctl -s | awk '$1 == "pid" { print $2 }')
    [ "${pid:-0}" != 0 ] && break
    sleep 0.1
  done
  [ "${pid:-0}" != 0 ] || { echo "record-churn-log: auditd did not register" >&2; exit 4; }
  auditctl -D >/dev/null
  auditctl -R "$rules" >/dev/null

  # The churn a node sees all day: a long-lived pod probed by exec, short-lived pods started and removed.
  podman run -d --runtime runc --name aks-auditd-churn-long --rootfs "$rootfs" /bin/sleep 600 >/dev/null
  for round in $(seq 1 "$rounds"); do
    podman exec aks-auditd-churn-long /bin/cat /etc/os-release >/dev/null
    podman exec aks-auditd-churn-long /bin/sh -c 'test -d /proc/1' >/dev/null
    podman run --rm --runtime runc --name "aks-auditd-churn-$round" --rootfs "$rootfs" /bin/sh -c 'ls / >/dev/null; id >/dev/null'
  done
  podman rm -f -t 0 aks-auditd-churn-long >/dev/null

  # A person on the node (login uid 1000) runs runc by hand: the pack must keep it.
  bash -c "echo 1000 > /proc/self/loginuid && /usr/sbin/runc --root '$work/person' list >/dev/null 2>&1 || true"

  sleep 1
  auditctl -D >/dev/null
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  pid=
}

broad_rules > "$work/before.rules"
{
  cat "$repo/rules/kubernetes-noise/10-kubernetes-noise.rules"
  echo "## Stand-ins on this machine: podman does kubelet's and containerd's work, conmon is the shim."
  echo "-a never,exit -F exe=/usr/bin/podman -F auid=unset"
  echo "-a never,exit -F exe=/usr/bin/conmon -F auid=unset"
  broad_rules
} > "$work/after.rules"
cp "$work/before.rules" "$out/before/loaded.rules"
cp "$work/after.rules" "$out/after/loaded.rules"

record before "$work/before.rules"
record after "$work/after.rules"
ls -la "$out"/before "$out"/after
