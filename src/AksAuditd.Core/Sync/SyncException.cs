namespace AksAuditd.Core.Sync;

/// <summary>Why a whole sync or drift run could not happen. Cmdlets turn these into ErrorCategory values.</summary>
public enum SyncFailure
{
    /// <summary>The source directory does not exist.</summary>
    SourceMissing,

    /// <summary>The source exists but cannot be read as a directory (a file, a FIFO, a broken ConfigMap volume).</summary>
    SourceUnreadable,

    /// <summary>The source holds no file to sync and empty sources are not allowed.</summary>
    SourceEmpty,

    TargetMissing,

    TargetNotADirectory,

    /// <summary>Another process holds the target's lock longer than we wait.</summary>
    TargetLocked,

    /// <summary>Writing the new files or the backup ran out of space; nothing on the node was changed.</summary>
    InsufficientSpace,

    /// <summary>Another write failure; the node's previous files are kept or put back.</summary>
    WriteFailed,

    StateUnusable,

    /// <summary>
    /// The kernel refused a rule of exactly this source after an earlier sync, and rules.d was rolled back
    /// (<see cref="RejectedSource"/>); the source must change before it is written again.
    /// </summary>
    SourceRejectedByKernel,

    /// <summary>A node file the sync would replace, remove or compare is a FIFO, device, directory, oversized file or has a name that is not UTF-8.</summary>
    TargetFileUnusable,
}

/// <summary>A sync or drift run that could not proceed. <see cref="Path"/> is the directory or file at fault.</summary>
public sealed class SyncException : Exception
{
    public SyncException(SyncFailure failure, string path, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
        Path = path;
    }

    public SyncFailure Failure { get; }

    public string Path { get; }

    /// <summary>A stable PascalCase id for error records: the failure's name.</summary>
    public string ErrorId => Failure.ToString();
}
