#!/usr/bin/env bash
# Generates a large, diverse audit log from real kernel activity, for the events benchmark (EventsBenchmark.cs).
#
#   generate-diverse-log.sh <output-dir> <megabytes>
#
# Writes <output-dir>/audit.log (ENRICHED, one file, at least <megabytes> MiB) and host/etc/{passwd,group}.
# Unlike the committed fixture, nothing is replicated: every record is the kernel's (or auditd's) own, from a
# workload that runs until the log is big enough:
#   - exec bursts with arguments (SYSCALL, EXECVE, CWD, PATH, PROCTITLE, BPRM_FCAPS for setpriv);
#   - file changes in a watched directory (create, write, rename, chmod, chown, link, unlink: PATH records);
#   - opens denied to an unprivileged user (exit=-EACCES, uid and gid other than root);
#   - connects over IPv4, IPv6 and AF_UNIX (SOCKADDR records);
#   - user-space records sent over the audit netlink socket (USER_LOGIN, USER_ACCT, USER_CMD, USER_START).
#
# Like record-audit-log.sh it runs a private auditd under the machine-wide kernel lock, only from a clean kernel
# (no rules, no daemon), and restores that state (auditctl -D, -e as it was). It never sets -e 2 or -f 2.
# Only the workload's processes carry loginuid 0, so other processes on the machine stay out of the log.
set -euo pipefail

LOCK=/run/aks-auditd-tests.kernel.lock
if [ "${AKSAUDITD_KERNEL_LOCK_HELD:-}" != 1 ]; then
  exec flock "$LOCK" env AKSAUDITD_KERNEL_LOCK_HELD=1 "$0" "$@"
fi

out=${1:?usage: generate-diverse-log.sh <output-dir> <megabytes>}
megabytes=${2:?usage: generate-diverse-log.sh <output-dir> <megabytes>}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/audit.log "$out"/audit.log.[0-9]*

if pgrep -x auditd >/dev/null; then
  echo "generate-diverse-log: an auditd is already running; refusing to start a second one" >&2
  exit 3
fi

# Start only from "no rules, no daemon" (auditing on or off: that setting is put back as it was), so a machine
# that audits for real is never changed; -e 2 (locked) is refused.
enabled=$(auditctl -s | awk '$1 == "enabled" { print $2 }')
if [ "$enabled" != 0 ] && [ "$enabled" != 1 ] || [ "$(auditctl -s | awk '$1 == "pid" { print $2 }')" != 0 ] \
   || [ "$(auditctl -l)" != "No rules" ]; then
  echo "generate-diverse-log: the kernel has rules, an audit daemon or locked settings; refusing to change it" >&2
  exit 3
fi

conf=$(mktemp -d /tmp/aksauditd-conf.XXXXXX)
work=$(mktemp -d /tmp/aksauditd-work.XXXXXX)
chmod 755 "$work"
mkdir "$conf/plugins.d"
cat > "$conf/auditd.conf" <<CONF
local_events = yes
write_logs = yes
log_file = $out/audit.log
log_group = root
log_format = ENRICHED
flush = NONE
freq = 0
max_log_file = 4096
num_logs = 2
priority_boost = 0
name_format = NONE
max_log_file_action = IGNORE
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
q_depth = 8000
overflow_action = IGNORE
max_restarts = 10
plugin_dir = $conf/plugins.d
end_of_event_timeout = 2
CONF
chmod 640 "$conf/auditd.conf"

pid=
workers=()
restore() {
  set +e
  for worker in "${workers[@]}"; do kill -TERM "$worker" 2>/dev/null; done
  wait 2>/dev/null
  auditctl -D >/dev/null 2>&1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  auditctl -e "$enabled" >/dev/null 2>&1
  rm -rf "$conf" "$work"
}
trap restore EXIT

/sbin/auditd -c "$conf" || { /sbin/auditd -f -c "$conf" 2>&1 | tail -5 >&2; exit 4; }
for _ in $(seq 1 100); do
  pid=$(auditctl -s | awk '$1 == "pid" { print $2 }')
  [ "${pid:-0}" != 0 ] && break
  sleep 0.1
done
[ "${pid:-0}" != 0 ] || { echo "generate-diverse-log: auditd did not register with the kernel" >&2; exit 4; }

watched=$work/watched
mkdir "$watched"
chmod 777 "$watched"
mkdir -m 700 "$work/private"
echo secret > "$work/private/secret.txt"
auditctl -a always,exit -F arch=b64 -S execve -F auid=0 -k procmon >/dev/null
auditctl -w "$watched" -p wa -k watched >/dev/null
auditctl -a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid=0 -k denied >/dev/null
auditctl -a always,exit -F arch=b64 -S connect -F auid=0 -k net >/dev/null
auditctl -a always,exit -F arch=b64 -S kill -S tgkill -F auid=0 -k signal >/dev/null
auditctl -a always,exit -F arch=b64 -S fchmodat -S fchownat -S fchown -F auid=0 -k perm >/dev/null

# Each worker sets its own loginuid, so its children (and only they) match the rules' auid=0.
start_worker() {
  bash -c 'echo 0 > /proc/self/loginuid; exec "$@"' worker "$@" &
  workers+=($!)
}

# File changes, connects and user-space records, from one Python process each (no fork per event).
cat > "$work/files.py" <<'PY'
import os, sys
d = sys.argv[1]
i = 0
while True:
    i += 1
    name = os.path.join(d, f"file-{i % 97}.txt")
    with open(name, "w") as f:
        f.write("x" * (i % 50))
    os.chmod(name, 0o640 if i % 2 else 0o4755)
    os.chown(name, 65534 if i % 3 else 0, 65534 if i % 5 else 0)
    other = os.path.join(d, f"renamed {i % 13}.txt")
    os.rename(name, other)
    if i % 7 == 0:
        os.symlink(other, name + ".lnk")
        os.unlink(name + ".lnk")
    os.unlink(other)
PY
cat > "$work/connects.py" <<'PY'
import errno, socket
i = 0
while True:
    i += 1
    for family, address in ((socket.AF_INET, ("127.0.0.1", 9 + i % 5)), (socket.AF_INET6, ("::1", 9)), (socket.AF_UNIX, f"/run/no-such-{i % 11}.sock")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.connect(address)
        except OSError:
            pass
        finally:
            s.close()
PY
cat > "$work/user-records.py" <<'PY'
import os, socket, struct, time
NETLINK_AUDIT, NLM_F_REQUEST, NLM_F_ACK = 9, 1, 4
kinds = {1112: "USER_LOGIN", 1101: "USER_ACCT", 1123: "USER_CMD", 1105: "USER_START"}
users = ["alice", "bob", "root", "nobody", "deploy"]
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
seq = 0
while True:
    for kind in kinds:
        seq += 1
        user = users[seq % len(users)]
        if kind == 1123:
            text = f'cwd="/home/{user}" cmd=73797374656D63746C20737461747573 exe="/usr/bin/sudo" terminal=pts/{seq % 4} res=success'
        else:
            text = f'op=login acct="{user}" exe="/usr/sbin/sshd" hostname=10.0.{seq % 7}.{seq % 200} addr=10.0.{seq % 7}.{seq % 200} terminal=ssh res={"success" if seq % 3 else "failed"}'
        data = text.encode() + b"\0"
        s.send(struct.pack("=IHHII", 16 + len(data), kind, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + data)
        s.recv(8192)
    time.sleep(0.002)
PY
cat > "$work/denied.py" <<PY
import os, time
while True:
    for name in ("$work/private/secret.txt", "/root/.bashrc", "/etc/shadow"):
        try:
            os.close(os.open(name, os.O_RDONLY))
        except OSError:
            pass
    time.sleep(0.001)
PY
chmod 644 "$work"/*.py
# (A background job's stdin is /dev/null, so the scripts are files rather than here-documents.)
start_worker /usr/bin/python3 "$work/files.py" "$watched"
start_worker /usr/bin/python3 "$work/connects.py"
start_worker /usr/bin/python3 "$work/user-records.py"
# Opens denied to nobody, with a PATH record naming the file it could not open.
start_worker /usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 "$work/denied.py"
# Exec bursts, two at a time: short programs with arguments, some failing, some through setpriv.
for _ in 1 2; do start_worker bash -c "
while true; do
  /bin/true a b c; /bin/false || true; /usr/bin/env 'A=b c' /bin/echo 'tab	here' \"quote\\\"d\" 'ünïcode' >/dev/null
  /bin/ls -la '$watched' >/dev/null 2>&1; /bin/cat /etc/hostname >/dev/null
  /usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups /bin/cat /etc/shadow 2>/dev/null || true
  /bin/sleep 2 & kill -TERM \$! 2>/dev/null; wait \$! 2>/dev/null || true
done"; done

target=$((megabytes * 1024 * 1024))
while [ "$(stat -c %s "$out/audit.log" 2>/dev/null || echo 0)" -lt "$target" ]; do
  sleep 0.5
done
for worker in "${workers[@]}"; do kill -TERM "$worker" 2>/dev/null || true; done
wait 2>/dev/null || true
workers=()

# The last event must be older than end_of_event_timeout when the daemon stops (see record-audit-log.sh).
sleep 3
auditctl -D >/dev/null
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
pid=
auditctl -e "$enabled" >/dev/null

mkdir -p "$out/host/etc"
cp /etc/passwd /etc/group "$out/host/etc/"
chmod 644 "$out"/audit.log*
echo "generate-diverse-log: $(wc -l < "$out/audit.log") records, $(stat -c %s "$out/audit.log") bytes in $out"
