#!/usr/bin/env bash
# Regenerates tests/AksAuditd.Core.Tests/Sync/PluginOracle/plugin-oracle.tsv: every crafted plugin file of
# PluginOracle/cases/ read by the REAL auditd of this machine (3.0.9), one file at a time:
#
#   a private config dir: a copy of /etc/audit/auditd.conf with plugin_dir, log_file and write_logs = no changed,
#   and a plugins.d holding only the case file (root, 0640, named as in cases/)
#   auditd -f -n -s nochange -c <private dir>      (the dispatcher reads plugin_dir at start)
#   wait for "Init complete"; read the argv of auditd's children from /proc; SIGTERM auditd
#
# Columns: case, verdict, argv, messages
#   verdict   refused (auditd said "Skipping <case> plugin due to errors"), active (auditd counted 1 active
#             plugin), inactive (0 active plugins, "No plugins found": active = no, or a name auditd never reads)
#   argv      the plugin process's argv, words joined by a space (empty for a builtin or an inactive plugin);
#             a #! script's interpreter (argv[0] /bin/sh) is left out: the words are what auditd passed execve
#   messages  every line auditd printed between reading auditd.conf and starting its dispatcher, with the
#             private plugin_dir written <plugin_dir>
# '\' is written '\\', TAB '\t', LF '\n', CR '\r'.
#
# The probe program /tmp/aa-plugin-oracle/probe (a root-owned 0755 sh script reading stdin until auditd closes
# it) stands in for a plugin program so that any argument list keeps it alive; the cases name it by that path.
#
# Each case holds the machine-wide kernel lock while auditd runs (auditd takes the kernel's audit PID) and puts
# back the kernel's enabled flag (auditd clears it when it exits). Nothing under /etc/audit is touched.
# Run as root:
#     tools/record-plugin-oracle.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/tests/AksAuditd.Core.Tests/Sync/PluginOracle"
out="$data/plugin-oracle.tsv"
lock=/run/aks-auditd-tests.kernel.lock
probe_dir=/tmp/aa-plugin-oracle
work="$(mktemp -d /tmp/aa-plugin-oracle-run.XXXXXX)"
trap 'rm -rf "$work" "$probe_dir"' EXIT

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
version="$(dpkg-query -W -f '${Version}' auditd 2>/dev/null || true)"

rm -rf "$probe_dir"
mkdir -m 0755 "$probe_dir"
printf '#!/bin/sh\ncat >/dev/null\n' > "$probe_dir/probe"
chmod 0755 "$probe_dir/probe"

escape() { sed -e 's/\\/\\\\/g' -e 's/\t/\\t/g' -e 's/\r/\\r/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'; }

run_case() {
  local case_file="$1" name conf plugins log status_before enabled pid child argv words i
  name="$(basename "$case_file")"
  conf="$work/conf"
  plugins="$work/plugins.d"
  log="$work/stderr"
  rm -rf "$conf" "$plugins"
  mkdir -m 0750 "$conf" "$plugins"
  sed -e "s#^plugin_dir.*#plugin_dir = $plugins#" -e "s#^log_file.*#log_file = $work/audit.log#" \
      -e "s#^write_logs.*#write_logs = no#" /etc/audit/auditd.conf > "$conf/auditd.conf"
  chmod 0640 "$conf/auditd.conf"
  cp "$case_file" "$plugins/$name"
  chmod 0640 "$plugins/$name"

  exec 9>"$lock"
  flock 9
  status_before="$(auditctl -s)"
  if printf '%s\n' "$status_before" | grep -q '^enabled 2'; then echo "audit is immutable here; refusing" >&2; exit 1; fi
  if [ "$(printf '%s\n' "$status_before" | sed -n 's/^pid //p')" != 0 ]; then echo "an audit daemon is running; stop it first" >&2; exit 1; fi
  enabled="$(printf '%s\n' "$status_before" | sed -n 's/^enabled //p')"

  auditd -f -n -s nochange -c "$conf" > "$log" 2>&1 &
  pid=$!
  for i in $(seq 100); do grep -q '^Init complete' "$log" && break; sleep 0.05; done
  argv=""
  for child in $(pgrep -P "$pid" || true); do
    # A child not yet past execve still shows auditd's own command line.
    for i in $(seq 40); do
      words="$(tr '\0' '\n' < "/proc/$child/cmdline" 2>/dev/null || true)"
      [ -n "$words" ] && [ "$(printf '%s\n' "$words" | head -1)" != auditd ] && break
      sleep 0.05
    done
    if [ "$(printf '%s\n' "$words" | sed -n 2p)" = "$probe_dir/probe" ]; then words="$(printf '%s\n' "$words" | tail -n +2)"; fi
    argv="$(printf '%s\n' "$words" | awk 'NR > 1 { printf " " } { printf "%s", $0 }')"
  done
  kill -TERM "$pid"
  wait "$pid" || true
  auditctl -e "$enabled" > /dev/null
  flock -u 9
  exec 9>&-

  local verdict messages
  if grep -qF "Skipping $name plugin due to errors" "$log"; then
    verdict=refused
  elif grep -q 'and 1 active plugins' "$log"; then
    verdict=active
  elif grep -q -e 'and 0 active plugins' -e '^No plugins found, not dispatching events' "$log"; then
    verdict=inactive
  else
    echo "$name: auditd did not start its dispatcher:" >&2; cat "$log" >&2; exit 1
  fi
  messages="$(awk '/^eoe_timeout_parser called with/ { on = 1; next } /^audit dispatcher initialized|^No plugins found/ { on = 0 } on' "$log" \
    | sed "s#$plugins#<plugin_dir>#g" | escape)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$verdict" "$(printf '%s' "$argv" | escape)" "$messages" >> "$out.tmp"
}

{
  echo "# Plugin oracle: crafted plugins.d files read by the real auditd $version of this machine ($(uname -r))."
  echo "# Regenerate (root): tools/record-plugin-oracle.sh   -- per case: auditd -f -n -s nochange -c <private dir>"
  echo "# Columns and escapes: see the header of tools/record-plugin-oracle.sh. DO NOT EDIT."
  printf 'case\tverdict\targv\tmessages\n'
} > "$out.tmp"
while IFS= read -r -d '' f; do run_case "$f"; done < <(find "$data/cases" -maxdepth 1 -type f ! -name .gitattributes -print0 | LC_ALL=C sort -z)
mv "$out.tmp" "$out"
echo "recorded $(($(wc -l < "$out") - 4)) cases into $out"
