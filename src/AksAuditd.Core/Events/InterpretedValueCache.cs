using System.IO.Hashing;
using System.Runtime.CompilerServices;

namespace AksAuditd.Core.Events;

/// <summary>
/// The interpreted text of values already seen, by field kind and the bytes interpreted. Real logs repeat the same
/// few uids, gids, arches, exits, modes, socket addresses, paths and command lines on every event, so most values
/// are looked up instead of parsed, resolved and turned into a new string each time; events then share the strings.
/// One per thread (interpretation runs wherever a lazy value is first read), emptied when it fills up or is asked
/// for by another interpreter (its names come from another host root).
/// </summary>
internal sealed class InterpretedValueCache
{
    /// <summary>Longer values (a long command line) are rarely repeated byte for byte; they are not kept.</summary>
    public const int MaxValueLength = 512;

    private const int Capacity = 1 << 14;

    [ThreadStatic]
    private static InterpretedValueCache? _forThread;

    private readonly Entry[] _entries = new Entry[Capacity];
    private object? _owner;
    private int _count;

    /// <summary>This thread's cache for <paramref name="owner"/>'s interpretations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static InterpretedValueCache For(object owner)
    {
        var cache = _forThread ??= new InterpretedValueCache();
        if (!ReferenceEquals(cache._owner, owner))
        {
            cache.Clear();
            cache._owner = owner;
        }

        return cache;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(int kind, ReadOnlySpan<byte> value, out string text, out uint hash)
    {
        hash = Hash(kind, value);
        for (var slot = (int)(hash & (Capacity - 1)); ; slot = (slot + 1) & (Capacity - 1))
        {
            ref var entry = ref _entries[slot];
            if (entry.Text is null)
            {
                text = null!;
                return false;
            }

            if (entry.Hash == hash && entry.Kind == kind && value.SequenceEqual(entry.Value))
            {
                text = entry.Text;
                return true;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(int kind, ReadOnlySpan<byte> value, string text, uint hash)
    {
        // Open addressing stays fast while the table is at most half full; a log with more distinct values
        // than that starts over rather than growing without bound.
        if (_count >= Capacity / 2)
        {
            Clear();
        }

        var slot = (int)(hash & (Capacity - 1));
        while (_entries[slot].Text is not null)
        {
            slot = (slot + 1) & (Capacity - 1);
        }

        _entries[slot] = new Entry(hash, kind, value.ToArray(), text);
        _count++;
    }

    // XxHash3 reads the value 16 or 32 bytes at a time; HashCode.AddBytes goes 4 bytes at a time, and hashing was
    // a tenth of reading every field of a log. The kind is mixed in after, so each kind keeps its own entries.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(int kind, ReadOnlySpan<byte> value) =>
        unchecked((uint)XxHash3.HashToUInt64(value) ^ ((uint)kind * 0x85EBCA6Bu));

    private void Clear()
    {
        Array.Clear(_entries);
        _count = 0;
    }

    private readonly record struct Entry(uint Hash, int Kind, byte[] Value, string Text);
}
