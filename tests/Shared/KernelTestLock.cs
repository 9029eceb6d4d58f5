namespace AksAuditd.Tests.Shared;

/// <summary>
/// One machine-wide lock for every test that touches the kernel's audit state or the machine's auditd.
/// .NET opens FileShare.None files with flock(LOCK_EX), so this also excludes shell scripts that run
/// <c>flock /run/aks-auditd-tests.kernel.lock ...</c>, and parallel test projects.
/// </summary>
public sealed class KernelTestLock : IDisposable
{
    public const string LockPath = "/run/aks-auditd-tests.kernel.lock";

    private readonly FileStream _stream;

    private KernelTestLock(FileStream stream) => _stream = stream;

    public static KernelTestLock Acquire(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(10));
        while (true)
        {
            try
            {
                return new KernelTestLock(new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
