#!/usr/bin/env python3
"""Regenerates tests/AksAuditd.Core.Tests/Rules/Oracle/own-oracle.tsv: every line of own-cases.rules run
through the real auditctl and kernel of this machine, the way augenrules loads a rules file; and
own-files.tsv: every whole file of Oracle/files/*.rules loaded the same way (file, exit_code, stderr,
kernel_listing), for what only a whole file shows (order, duplicates, deletes, where a load stops).

For each case line (blank lines and lines starting with '#' in own-cases.rules are not cases):
    auditctl -D
    write the line alone to a root-owned 0600 file;  auditctl -R FILE  -> exit code, stderr
    auditctl -l                                                        -> kernel listing
    auditctl -D, and restore -b/-r/--backlog_wait_time/-f if the line changed them
Columns: source_file, line_no, rule, exit_code, stderr (every stderr line; the rules file is named line.rules),
kernel_listing; a header row;
'\\' is written '\\\\', TAB '\\t', LF '\\n', CR '\\r' (as in the audit-rules corpus's oracle.tsv).

SAFETY: audit stays disabled (-e 0, checked after every line). A line is never run (exit_code
"skipped-unsafe") when it could reach -e, -f with anything but 0 or 1, --loginuid-immutable or --signal.
Run as root, holding the machine-wide kernel lock:
    flock /run/aks-auditd-tests.kernel.lock python3 tools/generate-rule-oracle.py
"""
import os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "AksAuditd.Core.Tests", "Rules", "Oracle")
CASES = os.path.join(DATA, "own-cases.rules")
OUT = os.path.join(DATA, "own-oracle.tsv")
FILES = os.path.join(DATA, "files")
FILES_OUT = os.path.join(DATA, "own-files.tsv")
AUDITCTL = "/sbin/auditctl"
RESTORED = ("backlog_limit", "rate_limit", "backlog_wait_time", "failure")
FLAG = {"backlog_limit": "-b", "rate_limit": "-r", "backlog_wait_time": "--backlog_wait_time", "failure": "-f"}


def unsafe(rule):
    # Deliberately broader than auditctl's own parsing: any word that could be read as -e or -f (also
    # inside a cluster such as -ce), or a prefix of --loginuid-immutable / --signal, keeps the line out.
    words = [w for w in re.split(r"[ \t]+", rule) if w]
    for i, w in enumerate(words):
        if w.startswith("--") and len(w) > 2:
            name = w[2:].split("=", 1)[0]
            if "loginuid-immutable".startswith(name) or "signal".startswith(name):
                return True
        elif re.match(r"^-[A-Za-z]*e", w):
            return True
        elif re.match(r"^-[A-Za-z]*f", w):
            value = w[w.index("f") + 1:] or (words[i + 1] if i + 1 < len(words) else "")
            if value not in ("0", "1"):
                return True
    return False


def run(args, env=None):
    p = subprocess.run(args, capture_output=True, timeout=30, env=env)
    return p.returncode, p.stdout.decode("utf-8", "backslashreplace"), p.stderr.decode("utf-8", "backslashreplace")


def status():
    _, out, _ = run([AUDITCTL, "-s"])
    return dict(l.split(None, 1) for l in out.splitlines() if " " in l)


def esc(s):
    return str(s).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main():
    if os.geteuid() != 0:
        sys.exit("run as root")
    work = tempfile.mkdtemp(prefix="rule-oracle.")
    shim = os.path.join(work, "syslog-to-stderr.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", shim, os.path.join(ROOT, "tools", "syslog-to-stderr.c")], check=True)
    line_file = os.path.join(work, "line.rules")
    run([AUDITCTL, "-e", "0"])
    baseline = status()
    if baseline.get("enabled") != "0":
        sys.exit("ABORT: could not disable auditing")
    rows = ["source_file\tline_no\trule\texit_code\tstderr\tkernel_listing"]
    with open(CASES, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    for n, rule in enumerate(lines, 1):
        if rule == "" or rule.startswith("#"):
            continue
        if unsafe(rule):
            rows.append("\t".join(esc(x) for x in ("own-cases.rules", n, rule, "skipped-unsafe", "", "")))
            continue
        run([AUDITCTL, "-D"])
        fd = os.open(line_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (rule + "\n").encode())
        os.close(fd)
        rc, _, err = run([AUDITCTL, "-R", line_file], env=dict(os.environ, LD_PRELOAD=shim))
        _, listing, _ = run([AUDITCTL, "-l"])
        st = status()
        if st.get("enabled") != "0":
            run([AUDITCTL, "-e", "0"])
            sys.exit("ABORT: auditing became enabled after line %d" % n)
        for key in RESTORED:
            if st.get(key) != baseline.get(key):
                run([AUDITCTL, FLAG[key], baseline[key]])
        run([AUDITCTL, "-D"])
        messages = [l.replace(line_file, "line.rules") for l in err.split("\n") if l]
        rows.append("\t".join(esc(x) for x in ("own-cases.rules", n, rule, rc, "\n".join(messages), listing.rstrip("\n"))))
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(rows) + "\n")
    print("wrote %d cases to %s" % (len(rows) - 1, OUT))

    file_rows = ["file\texit_code\tstderr\tkernel_listing"]
    for name in sorted(os.listdir(FILES)):
        with open(os.path.join(FILES, name), encoding="utf-8") as f:
            text = f.read()
        if any(unsafe(l) for l in text.split("\n") if l.strip() and not l.lstrip().startswith("#")):
            sys.exit("ABORT: %s holds an unsafe line" % name)
        run([AUDITCTL, "-D"])
        fd = os.open(line_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
        rc, _, err = run([AUDITCTL, "-R", line_file], env=dict(os.environ, LD_PRELOAD=shim))
        _, listing, _ = run([AUDITCTL, "-l"])
        if status().get("enabled") != "0":
            run([AUDITCTL, "-e", "0"])
            sys.exit("ABORT: auditing became enabled after %s" % name)
        run([AUDITCTL, "-D"])
        messages = [l.replace(line_file, name) for l in err.split("\n") if l]
        file_rows.append("\t".join(esc(x) for x in (name, rc, "\n".join(messages), listing.rstrip("\n"))))
    with open(FILES_OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(file_rows) + "\n")
    print("wrote %d files to %s" % (len(file_rows) - 1, FILES_OUT))


if __name__ == "__main__":
    main()
