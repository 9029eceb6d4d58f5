using System.Globalization;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Rules.Auditctl;

/// <summary>auditctl's -S: syscall names and numbers looked up in the rule's arch table, and its 32/64-bit check.</summary>
internal sealed partial class AuditctlLine
{

    private bool SyscallOption(string arg, RuleToken token)
    {
        var unknownArch = _libaudit.Elf == 0;
        var list = _add != AuditConstants.FilterUnset ? _add : _del;
        var listed = list & (AuditConstants.FilterMask | AuditConstants.FilterUnset);
        string? refusal = (AuditFilterList)listed switch
        {
            AuditFilterList.Task => "Error: syscall auditing being added to task list",
            AuditFilterList.User => "Error: syscall auditing being added to user list",
            AuditFilterList.Filesystem => "Error: syscall auditing being added to filesystem list",
            _ => _exclude ? "Error: syscall auditing cannot be put on exclude list" : null,
        };
        if (refusal is not null)
        {
            var name = _exclude ? "exclude" : KernelRule.ListName((AuditFilterList)listed);
            _report.Fail(RuleDiagnosticCodes.SyscallOnWrongList, token, $"the {name} list takes no syscalls (-S); syscall rules belong on the exit list", refusal);
            return false;
        }
        if (unknownArch)
        {
            _libaudit.Elf = AuditLookups.MachineToElf(_context.HostMachine);
        }

        if (ParseSyscalls(arg, token))
        {
            _libaudit.SyscallAdded = true;
            if (unknownArch && _add != AuditConstants.FilterUnset)
            {
                CheckArchMismatch(arg, token);
            }
            return true;
        }
        return false;
    }

    /// <summary>The -S names or numbers set in the rule's syscall mask; false after reporting an unknown one.</summary>
    private bool ParseSyscalls(string arg, RuleToken token)
    {
        var machine = AuditLookups.ElfToMachine(_libaudit.Elf);
        var archName = machine < 0 ? null : AuditLookups.MachineName(machine);
        var offset = 0;
        var parts = arg.Contains(',') ? arg.Split(',') : [arg];
        foreach (var part in parts)
        {
            var partToken = new RuleToken(part, token.Column + offset, part.Length);
            offset += part.Length + 1;
            if (part.Length == 0)
            {
                // strtok skips empty pieces between commas.
                continue;
            }
            if (part == "all")
            {
                _rule.SetAllSyscalls();
                _syscalls.Add(new AuditRuleSyscall(part, "all", -1, partToken));
                continue;
            }
            if (archName is null || !SyscallTable.Architectures.Contains(archName))
            {
                if (CNumber.StartsWithDigit(part))
                {
                    var n = unchecked((int)CNumber.StrToL(part).Bits);
                    if (n >= 0 && n < AuditConstants.BitmaskSize * 32)
                    {
                        _rule.SetSyscall(n);
                        _syscalls.Add(new AuditRuleSyscall(part, null, n, partToken));
                        continue;
                    }
                }
                _report.Warn(RuleDiagnosticCodes.NoSyscallTable, partToken,
                    $"this check has no syscall table for arch {archName ?? "0x" + _libaudit.Elf.ToString("x", CultureInfo.InvariantCulture)}; '{part}' is not checked");
                _syscalls.Add(new AuditRuleSyscall(part, null, -1, partToken));
                continue;
            }
            int number;
            if (SyscallTable.TryGetNumber(archName, part, out var byName))
            {
                number = byName;
            }
            else if (CNumber.StartsWithDigit(part))
            {
                number = unchecked((int)CNumber.StrToL(part).Bits);
            }
            else
            {
                number = -1;
            }
            if (number < 0 || number >= AuditConstants.BitmaskSize * 32)
            {
                var hint = number >= AuditConstants.BitmaskSize * 32 ? $" (syscall numbers end at {AuditConstants.BitmaskSize * 32 - 1})"
                    : OtherArchHint(part, archName);
                _report.Fail(RuleDiagnosticCodes.UnknownSyscall, partToken, $"'{part}' is not in auditctl 3.0.9's {archName} syscall table{hint}",
                    $"Syscall name unknown: {(parts.Length > 1 ? part : arg)}");
                return false;
            }
            if (number >= AuditConstants.BitmaskSize * 32 - 16)
            {
                _report.Warn(RuleDiagnosticCodes.ValueOutOfRange, partToken,
                    $"syscall number {number} is one of the kernel's syscall class bits (2032-2047), not a syscall");
            }
            if (!SyscallTable.TryGetName(archName, number, out var resolved))
            {
                resolved = null;
            }
            if (!SyscallTable.TryGetNumber(archName, part, out _))
            {
                _report.NotePartialNumber(part, CNumber.StrToL(part), partToken, "-S");
            }
            _rule.SetSyscall(number);
            _syscalls.Add(new AuditRuleSyscall(part, resolved, number, partToken));
        }
        return true;
    }

    private static string OtherArchHint(string name, string archName)
    {
        var others = SyscallTable.Architectures.Where(a => a != archName && SyscallTable.TryGetNumber(a, name, out _)).ToList();
        return others.Count > 0 ? $" (it exists on {string.Join(", ", others)})" : string.Empty;
    }

    /// <summary>check_rule_mismatch: on a 64-bit node, the same names resolved for the 32-bit arch give other numbers.</summary>
    private void CheckArchMismatch(string arg, RuleToken token)
    {
        var compat = _context.HostMachine switch
        {
            AuditConstants.Mach86_64 => AuditConstants.MachX86,
            AuditConstants.MachPpc64 => AuditConstants.MachPpc,
            AuditConstants.MachS390x => AuditConstants.MachS390,
            _ => _context.HostMachine,
        };
        var compatName = AuditLookups.MachineName(compat);
        var mask = new uint[AuditConstants.BitmaskSize];
        foreach (var part in arg.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "all")
            {
                Array.Fill(mask, uint.MaxValue);
                continue;
            }
            int n;
            if (compatName is not null && SyscallTable.TryGetNumber(compatName, part, out var found))
            {
                n = found;
            }
            else if (CNumber.StartsWithDigit(part))
            {
                n = unchecked((int)CNumber.StrToL(part).Bits);
            }
            else
            {
                continue;
            }
            if (n >= 0 && n < AuditConstants.BitmaskSize * 32)
            {
                mask[n / 32] |= 1u << (n % 32);
            }
        }
        if (!mask.AsSpan().SequenceEqual(_rule.Mask))
        {
            _report.Warn(RuleDiagnosticCodes.MissingArch, token,
                $"-S without -F arch: the syscalls are taken from the node's {AuditLookups.MachineName(_context.HostMachine)} table and 32-bit programs " +
                "are not audited; add -F arch=b64 (and a second rule with -F arch=b32) before -S",
                "WARNING - 32/64 bit syscall mismatch in line 1, you should specify an arch");
        }
    }
}
