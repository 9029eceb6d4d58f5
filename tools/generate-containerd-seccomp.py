#!/usr/bin/env python3
"""Writes containerd's RuntimeDefault seccomp profile for amd64 as a containers/common seccomp.json.

AKS runs containerd, whose RuntimeDefault profile is Go code (contrib/seccomp/seccomp_default.go), not a file:
the e2e needs it as a file podman can load. This reads the Go source (a checkout of containerd/containerd) and
writes what DefaultProfile returns on amd64 with kernel >= 4.8. The rules that containerd adds only for a
capability in the bounding set become containers/common "includes": {"caps": [...]} (podman applies them the
same way); the rules containerd adds only WITHOUT CAP_SYS_ADMIN become "excludes": {"caps": ["CAP_SYS_ADMIN"]}.
The big allow list is read from the source; the conditional rules are transcribed below, and every name in them
is checked to be in the source, so a containerd that renamed one fails here.

    tools/generate-containerd-seccomp.py <seccomp_default.go> <commit> [output]
    (for example: git -C containerd show <commit>:contrib/seccomp/seccomp_default.go > /tmp/seccomp_default.go)
"""
import json
import re
import sys

AF_ALG, AF_VSOCK = 38, 40
CLONE_NS_FLAGS = 0x10000000 | 0x04000000 | 0x08000000 | 0x02000000 | 0x20000000 | 0x40000000 | 0x00020000
# NEWUSER | NEWUTS | NEWIPC | NEWCGROUP | NEWPID | NEWNET | NEWNS

CAPABILITY_RULES = {
    "CAP_DAC_READ_SEARCH": ["open_by_handle_at"],
    "CAP_SYS_ADMIN": ["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                      "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                      "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
                      "umount2", "unshare"],
    "CAP_SYS_BOOT": ["reboot"],
    "CAP_SYS_CHROOT": ["chroot"],
    "CAP_SYS_MODULE": ["delete_module", "init_module", "finit_module"],
    "CAP_SYS_PACCT": ["acct"],
    "CAP_SYS_PTRACE": ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
    "CAP_SYS_RAWIO": ["iopl", "ioperm"],
    "CAP_SYS_TIME": ["settimeofday", "stime", "clock_settime", "clock_settime64"],
    "CAP_SYS_TTY_CONFIG": ["vhangup"],
    "CAP_SYS_NICE": ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
    "CAP_SYSLOG": ["syslog"],
    "CAP_BPF": ["bpf"],
    "CAP_PERFMON": ["perf_event_open"],
}


def main():
    checkout, commit = sys.argv[1], sys.argv[2]
    output = sys.argv[3] if len(sys.argv) > 3 else "tests/e2e/seccomp/containerd-runtime-default.json"
    source = open(checkout, encoding="utf-8").read()
    first = re.search(r"syscalls := \[\]specs\.LinuxSyscall\{\s*\{\s*Names: \[\]string\{(.*?)\}", source, re.S)
    allowed = re.findall(r'"([a-z0-9_]+)"', first.group(1))
    conditional = {n for names in CAPABILITY_RULES.values() for n in names} | {
        "socket", "personality", "arch_prctl", "modify_ldt", "clone", "clone3"}
    missing = sorted(n for n in conditional | set(CAPABILITY_RULES) if f'"{n}"' not in source)
    if missing:
        sys.exit(f"not in {checkout} any more: {missing}")

    def rule(names, args=None, **extra):
        r = {"names": names, "action": "SCMP_ACT_ALLOW", "args": args or []}
        r.update(extra)
        return r

    def arg(index, value, op, value_two=0):
        return {"index": index, "value": value, "valueTwo": value_two, "op": op}

    syscalls = [rule(allowed)]
    # socket(2) for every family but AF_ALG and AF_VSOCK, as three single-condition ranges (the source says why).
    syscalls += [rule(["socket"], [arg(0, AF_ALG, "SCMP_CMP_LT")]),
                 rule(["socket"], [arg(0, AF_ALG + 1, "SCMP_CMP_EQ")]),
                 rule(["socket"], [arg(0, AF_VSOCK, "SCMP_CMP_GT")])]
    syscalls += [rule(["personality"], [arg(0, v, "SCMP_CMP_EQ")]) for v in (0x0, 0x0008, 0x20000, 0x20008, 0xffffffff)]
    # Kernel >= 4.8 (every AKS node).
    syscalls.append(rule(["process_vm_readv", "process_vm_writev", "ptrace"]))
    # amd64.
    syscalls.append(rule(["arch_prctl", "modify_ldt"]))
    for cap, names in CAPABILITY_RULES.items():
        syscalls.append(rule(names, includes={"caps": [cap]}))
    # Without CAP_SYS_ADMIN: clone without namespace flags; clone3 answers ENOSYS so libc falls back to clone.
    syscalls.append(rule(["clone"], [arg(0, CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ", 0)], excludes={"caps": ["CAP_SYS_ADMIN"]}))
    syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [],
                     "excludes": {"caps": ["CAP_SYS_ADMIN"]}})

    profile = {
        "comment": f"containerd RuntimeDefault (contrib/seccomp/seccomp_default.go at containerd/containerd {commit}) "
                   "for amd64, kernel >= 4.8; written by tools/generate-containerd-seccomp.py. Apache-2.0, "
                   "Copyright The containerd Authors.",
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": syscalls,
    }
    with open(output, "w", encoding="utf-8") as f:
        json.dump(profile, f, indent=1)
        f.write("\n")
    print(f"{output}: {len(allowed)} unconditional names, {len(syscalls)} rules")


if __name__ == "__main__":
    main()
