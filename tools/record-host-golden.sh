#!/usr/bin/env bash
# Regenerates tests/AksAuditd.Core.Tests/Host/Golden/ from the real auditctl on this machine:
#   auditctl-s-disabled.txt   auditctl -s with audit off and no daemon (the machine's resting state)
#   auditctl-s-running.txt    auditctl -s while a real auditd (service auditd start) holds the audit PID
#   auditctl-s-immutable.txt  the running recording with "enabled 1" changed to "enabled 2": immutable mode is
#                             simulated only, because loading -e 2 would lock this kernel until reboot
#   auditctl-v.txt            auditctl -v
# Takes the machine-wide kernel test lock and leaves the kernel and auditd as it found them.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/AksAuditd.Core.Tests/Host/Golden"
mkdir -p "$out"
exec 9>/run/aks-auditd-tests.kernel.lock
flock 9

if auditctl -s | grep -q '^enabled 2'; then echo "audit is immutable on this machine; refusing to record" >&2; exit 1; fi
if [ "$(auditctl -s | sed -n 's/^pid //p')" != "0" ]; then echo "an audit daemon is already running; stop it first" >&2; exit 1; fi
saved="$(mktemp -d)"
cp -a /etc/audit/. "$saved/"
status_before="$(auditctl -s)"
restore() {
  service auditd stop >/dev/null 2>&1 || true
  auditctl -D >/dev/null
  cp -a "$saved/." /etc/audit/
  rm -rf "$saved"
  get() { printf '%s\n' "$status_before" | sed -n "s/^$1 //p" | awk '{print $1}'; }
  auditctl -b "$(get backlog_limit)" --backlog_wait_time "$(get backlog_wait_time)" -f "$(get failure)" -r "$(get rate_limit)" >/dev/null
  auditctl -e "$(get enabled)" >/dev/null
}
trap restore EXIT

auditctl -s > "$out/auditctl-s-disabled.txt"
auditctl -v > "$out/auditctl-v.txt"
service auditd start >/dev/null
for _ in $(seq 50); do [ "$(auditctl -s | sed -n 's/^pid //p')" != "0" ] && break; sleep 0.1; done
auditctl -s > "$out/auditctl-s-running.txt"
sed 's/^enabled 1$/enabled 2/' "$out/auditctl-s-running.txt" > "$out/auditctl-s-immutable.txt"
grep -q '^enabled 2$' "$out/auditctl-s-immutable.txt"
echo "recorded into $out"
