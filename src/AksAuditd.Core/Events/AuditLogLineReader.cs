using System.Runtime.CompilerServices;
using System.Buffers;

namespace AksAuditd.Core.Events;

internal enum LineStatus
{
    /// <summary>A complete line is available through <see cref="AuditLogLineReader.Line"/>.</summary>
    Line,

    /// <summary>A line longer than <see cref="AuditLogLineReader.MaxLineLength"/> was skipped whole.</summary>
    TooLong,

    /// <summary>No complete line is available now; more may come when the file grows.</summary>
    NoData,
}

/// <summary>
/// Reads a log file line by line into one reused buffer, so memory stays bounded whatever the file size.
/// A line that never ends within <see cref="MaxLineLength"/> bytes is skipped up to its newline and reported.
/// Stopping at a line with no newline yet lets a follower wait for auditd to finish writing it.
/// </summary>
internal sealed class AuditLogLineReader : IDisposable
{
    /// <summary>auditd records are at most about 9 KB (MAX_AUDIT_MESSAGE_LENGTH) plus the enriched names.</summary>
    public const int MaxLineLength = 64 * 1024;

    private readonly Stream _stream;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private int _lineStart;
    private int _lineLength;
    private bool _skipping;
    private long _skippedLineNumber;

    public AuditLogLineReader(Stream stream, long startLineNumber = 0)
    {
        _stream = stream;
        _buffer = ArrayPool<byte>.Shared.Rent(4 * MaxLineLength);
        LineNumber = startLineNumber;
        Consumed = stream.CanSeek ? stream.Position : 0;
    }

    /// <summary>Opens a log file for reading while auditd keeps writing and renaming it (every reader of the log opens it so).</summary>
    public static FileStream OpenShared(string path) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.SequentialScan,
        });

    /// <summary>The number of the last line returned (or skipped), from 1.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Bytes of the file handed out as lines so far (where a follower resumes).</summary>
    public long Consumed { get; private set; }

    /// <summary>Bytes read but not yet part of a complete line.</summary>
    public int Pending => _end - _start;

    public ReadOnlySpan<byte> Line => _buffer.AsSpan(_lineStart, _lineLength);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public LineStatus Next()
    {
        while (true)
        {
            var available = _buffer.AsSpan(_start, _end - _start);
            var newline = available.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                _lineStart = _start;
                _lineLength = newline;
                _start += newline + 1;
                Consumed += newline + 1;
                LineNumber++;
                if (_skipping)
                {
                    _skipping = false;
                    _skippedLineNumber = LineNumber;
                    return LineStatus.TooLong;
                }

                return LineStatus.Line;
            }

            if (available.Length >= MaxLineLength)
            {
                // Drop what we have of the over-long line and keep reading until its end.
                _skipping = true;
                Consumed += available.Length;
                _start = _end = 0;
            }

            if (!Fill())
            {
                return LineStatus.NoData;
            }
        }
    }

    /// <summary>At the real end of a file: the last line when auditd did not end it with a newline.</summary>
    public bool TryTakeUnterminated()
    {
        if (_end == _start || _skipping)
        {
            return false;
        }

        _lineStart = _start;
        _lineLength = _end - _start;
        Consumed += _lineLength;
        _start = _end;
        LineNumber++;
        return true;
    }

    /// <summary>Line number of the last over-long line skipped.</summary>
    public long SkippedLineNumber => _skippedLineNumber;

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Fill()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read <= 0)
        {
            return false;
        }

        _end += read;
        return true;
    }
}
