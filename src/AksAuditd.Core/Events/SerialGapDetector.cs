using System.Runtime.CompilerServices;
namespace AksAuditd.Core.Events;

/// <summary>
/// Notices kernel serial numbers that never appear: events the kernel dropped (backlog full, rate limit) or
/// auditd lost. Serials of one boot only grow, but events may arrive a little out of order, so a missing
/// serial is reported only once the log has moved well past it, or at the end.
/// </summary>
internal sealed class SerialGapDetector
{
    // How far past a hole the log must be before the hole counts as lost, not just late.
    private const long Patience = 1000;

    private readonly Dictionary<string, NodeSerials> _nodes = new(StringComparer.Ordinal);

    /// <summary>A range of serials that never showed up: first, last, and where the reader was when it gave up.</summary>
    public readonly record struct Gap(string? Node, long First, long Last);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Observe(string? node, long serial, List<Gap> lost)
    {
        var key = node ?? string.Empty;
        if (!_nodes.TryGetValue(key, out var state))
        {
            _nodes[key] = new NodeSerials { Highest = serial };
            return;
        }

        if (serial == state.Highest + 1)
        {
            state.Highest = serial;
        }
        else if (serial > state.Highest + 1)
        {
            state.Holes.Add((state.Highest + 1, serial - 1));
            state.Highest = serial;
        }
        else if (serial < state.Highest - 100 * Patience)
        {
            // Far below what we saw: the node rebooted and the kernel counts from 1 again.
            state.Holes.Clear();
            state.Highest = serial;
            return;
        }
        else
        {
            Fill(state, serial);
        }

        for (var i = state.Holes.Count - 1; i >= 0; i--)
        {
            if (state.Holes[i].Last + Patience < state.Highest)
            {
                lost.Add(new Gap(node, state.Holes[i].First, state.Holes[i].Last));
                state.Holes.RemoveAt(i);
            }
        }
    }

    public void Finish(List<Gap> lost)
    {
        foreach (var (node, state) in _nodes)
        {
            foreach (var (first, last) in state.Holes)
            {
                lost.Add(new Gap(node.Length == 0 ? null : node, first, last));
            }

            state.Holes.Clear();
        }
    }

    private static void Fill(NodeSerials state, long serial)
    {
        for (var i = 0; i < state.Holes.Count; i++)
        {
            var (first, last) = state.Holes[i];
            if (serial < first || serial > last)
            {
                continue;
            }

            state.Holes.RemoveAt(i);
            if (serial > first)
            {
                state.Holes.Insert(i, (first, serial - 1));
            }

            if (serial < last)
            {
                state.Holes.Add((serial + 1, last));
            }

            return;
        }
    }

    private sealed class NodeSerials
    {
        public long Highest { get; set; }

        public List<(long First, long Last)> Holes { get; } = new();
    }
}
