using System.Text.RegularExpressions;

using AksAuditd.Core.Audit;

namespace AksAuditd.Core.Events;

/// <summary>What to read and which events to keep. Empty lists and nulls mean "no filter".</summary>
public sealed class AuditEventQuery
{
    /// <summary>Log files, or directories holding audit.log and its rotations; empty means the node's log_file and its rotations.</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>Where the node's / is: auditd.conf, passwd and group are read under it.</summary>
    public string HostRoot { get; init; } = "/";

    /// <summary>Rule keys (-k); wildcards * ? [] allowed.</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];

    /// <summary>Record type names (SYSCALL, USER_LOGIN...); an event matches when any of its records has one.</summary>
    public IReadOnlyList<string> MessageTypes { get; init; } = [];

    /// <summary>Only events at or after this time (UTC).</summary>
    public DateTime? After { get; init; }

    /// <summary>Only events at or before this time (UTC).</summary>
    public DateTime? Before { get; init; }

    public IReadOnlyList<int> ProcessIds { get; init; } = [];

    /// <summary>Executable paths (exe); wildcards * ? [] allowed.</summary>
    public IReadOnlyList<string> Executables { get; init; } = [];

    public bool? Success { get; init; }

    /// <summary>Only the last N matching events of what is already in the log.</summary>
    public int? Tail { get; init; }

    /// <summary>Keep reading as auditd writes, across rotations, until cancelled.</summary>
    public bool Follow { get; init; }

    /// <summary>How often a follower looks for new lines.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>Shell wildcards (* ? [abc]) over whole strings, case-sensitive like Linux paths and audit keys.</summary>
internal sealed class WildcardSet
{
    private readonly Regex[] _patterns;

    public WildcardSet(IEnumerable<string> patterns) =>
        _patterns = patterns.Select(p => new Regex(ToRegex(p), RegexOptions.CultureInvariant)).ToArray();

    public bool IsEmpty => _patterns.Length == 0;

    public bool Matches(string? value) => value is not null && _patterns.Any(p => p.IsMatch(value));

    private static string ToRegex(string pattern)
    {
        var regex = new System.Text.StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*':
                    regex.Append(".*");
                    break;
                case '?':
                    regex.Append('.');
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 1);
                    if (close > i + 1)
                    {
                        regex.Append('[').Append(Regex.Escape(pattern[(i + 1)..close]).Replace("\\-", "-")).Append(']');
                        i = close;
                    }
                    else
                    {
                        regex.Append("\\[");
                    }

                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        return regex.Append('$').ToString();
    }
}
