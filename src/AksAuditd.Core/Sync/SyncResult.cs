using AksAuditd.Core.Configuration;
using AksAuditd.Core.Rules;

namespace AksAuditd.Core.Sync;

/// <summary>What to sync, where, and how.</summary>
public sealed class SyncRequest
{
    public required SyncKind Kind { get; init; }

    public required string SourcePath { get; init; }

    public required string TargetPath { get; init; }

    /// <summary>Holds managed/ and backup/ (the node's /var/lib/aks-auditd).</summary>
    public required string StatePath { get; init; }

    public SyncMode Mode { get; init; } = SyncMode.Managed;

    /// <summary>Lets an empty or missing source remove our files (all files in Mirror mode).</summary>
    public bool AllowEmpty { get; init; }

    public TimeSpan LockTimeout { get; init; } = TargetLock.DefaultTimeout;

    /// <summary>Rules only: a source may contain -e 2 (as its last rule).</summary>
    public bool AllowImmutable { get; init; }

    /// <summary>Rules only: a source may contain -f 2.</summary>
    public bool AllowPanic { get; init; }

    /// <summary>
    /// Asked, under the lock, once the plan is known and before anything changes; false leaves the node alone
    /// (a cmdlet's ShouldProcess, so -WhatIf and -Confirm see the real plan). Null applies the plan.
    /// </summary>
    public Func<SyncPlan, bool>? Confirm { get; init; }
}

/// <summary>What a sync did, or with -WhatIf would do.</summary>
public sealed class SyncResult
{
    public required SyncKind Kind { get; init; }

    public required string SourcePath { get; init; }

    public required string TargetPath { get; init; }

    public required SyncMode Mode { get; init; }

    /// <summary>True when node files were written or removed.</summary>
    public bool Changed { get; init; }

    /// <summary>True when only the plan was computed (WhatIf, or not confirmed): Added/Modified/Removed are what would change.</summary>
    public bool WhatIf { get; init; }

    /// <summary>True when source errors (validation, unsafe names...) stopped the sync; see <see cref="Diagnostics"/>.</summary>
    public bool Blocked { get; init; }

    public IReadOnlyList<string> Added { get; init; } = Array.Empty<string>();

    public IReadOnlyList<string> Modified { get; init; } = Array.Empty<string>();

    public IReadOnlyList<string> Removed { get; init; } = Array.Empty<string>();

    /// <summary>Node files not in the source that Managed mode left alone.</summary>
    public IReadOnlyList<string> Foreign { get; init; } = Array.Empty<string>();

    /// <summary>Temporary files of an interrupted run that this run deleted.</summary>
    public IReadOnlyList<string> CleanedUp { get; init; } = Array.Empty<string>();

    /// <summary>The backup generation holding what this sync overwrote or removed; null when nothing was.</summary>
    public string? BackupPath { get; init; }

    /// <summary>Errors and warnings about the source, each with file and line.</summary>
    public IReadOnlyList<RuleDiagnostic> Diagnostics { get; init; } = Array.Empty<RuleDiagnostic>();

    /// <summary>The ConfigMap version that was read (its ..data target); null for a plain directory.</summary>
    public string? SourceVersion { get; init; }

    public TimeSpan Duration { get; init; }

    /// <summary>The *.rules or *.conf files in the source that was read.</summary>
    public int SourceFileCount { get; init; }

    /// <summary>Node files that still differ from the source after this pass (0 once applied; the plan when blocked or WhatIf).</summary>
    public int DriftFileCount { get; init; }

    /// <summary>For rules: the rules the source adds to the kernel (-a, -A, -w lines); null for plugins.</summary>
    public int? DesiredRuleCount { get; init; }

    public override string ToString() =>
        $"{Kind} {(Blocked ? "blocked" : WhatIf ? "what-if" : Changed ? "changed" : "unchanged")}: {Added.Count} added, {Modified.Count} modified, {Removed.Count} removed";
}
