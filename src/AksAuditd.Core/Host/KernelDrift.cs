namespace AksAuditd.Core.Host;

/// <summary>One desired rule in canonical form, with the rules.d file and line it came from.</summary>
public sealed record DesiredRule(string Rule, string? File, int Line);

/// <summary>
/// The rules engine as the node side needs it: what augenrules would load from a rules.d directory and what
/// the kernel lists, both in the canonical <c>auditctl -l</c> form, so that equal rules compare equal as text.
/// </summary>
public interface IKernelRuleCanon
{
    /// <summary>The augenrules merge of <paramref name="rulesDirectory"/>: its rules (not control lines such as -D, -b, -e), canonical.</summary>
    IReadOnlyList<DesiredRule> DesiredRules(string rulesDirectory);

    /// <summary>The rules in <c>auditctl -l</c> output, canonical.</summary>
    IReadOnlyList<string> LoadedRules(string listing);
}

public enum KernelDriftStatus
{
    /// <summary>Desired (in rules.d) but not loaded in the kernel.</summary>
    Missing,

    /// <summary>Loaded in the kernel but not desired.</summary>
    Unexpected,
}

/// <summary>One difference between the desired rules and the kernel's.</summary>
public sealed record KernelRuleDrift(string Rule, KernelDriftStatus Status, string? File, int? Line)
{
    public override string ToString() => $"{Status}: {Rule}";
}

/// <summary>Compares desired and loaded rules as multisets: the kernel lists rules by filter list, not in file order.</summary>
public static class KernelDrift
{
    public static IReadOnlyList<KernelRuleDrift> Compare(IReadOnlyList<DesiredRule> desired, IReadOnlyList<string> loaded)
    {
        var remaining = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var rule in loaded)
        {
            remaining[rule] = remaining.GetValueOrDefault(rule) + 1;
        }

        var drift = new List<KernelRuleDrift>();
        foreach (var rule in desired)
        {
            if (remaining.TryGetValue(rule.Rule, out var count) && count > 0)
            {
                remaining[rule.Rule] = count - 1;
            }
            else
            {
                drift.Add(new KernelRuleDrift(rule.Rule, KernelDriftStatus.Missing, rule.File, rule.Line));
            }
        }

        foreach (var rule in loaded)
        {
            if (remaining.TryGetValue(rule, out var count) && count > 0)
            {
                remaining[rule] = count - 1;
                drift.Add(new KernelRuleDrift(rule, KernelDriftStatus.Unexpected, null, null));
            }
        }

        return drift;
    }
}

/// <summary>Reads the kernel's rules on the node and compares them with the node's rules.d.</summary>
public sealed class KernelDriftReader
{
    private readonly IHostCommandRunner _runner;
    private readonly IKernelRuleCanon _canon;

    public KernelDriftReader(IHostCommandRunner runner, IKernelRuleCanon canon)
    {
        _runner = runner;
        _canon = canon;
    }

    /// <param name="rulesDirectory">The node's rules.d as this process reaches it.</param>
    public IReadOnlyList<KernelRuleDrift> Read(string rulesDirectory)
    {
        var listing = Auditctl.Run(_runner, "-l").StandardOutput;
        var desired = _canon.DesiredRules(rulesDirectory);
        var loaded = _canon.LoadedRules(listing);
        var drift = KernelDrift.Compare(desired, loaded);
        Recorder.RecordKernelRules(desired.Count, loaded.Count, drift.Count);
        return drift;
    }

    /// <summary>Where every comparison is reported; the process-wide recorder by default.</summary>
    public Health.NodeHealthRecorder Recorder { get; init; } = Health.NodeHealthRecorder.Shared;
}
