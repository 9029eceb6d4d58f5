using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace AksAuditd.PowerShell;

/// <summary>
/// Loads AksAuditd.Core and its packages (YamlDotNet, System.IO.Hashing) from the module's Dependencies/ folder
/// into a context of their own, so another module that brought a different YamlDotNet into the session
/// cannot break us, nor we it. Only AksAuditd.Core is handed to the default context; everything Core
/// needs is resolved inside this context.
/// </summary>
internal sealed class DependencyLoadContext : AssemblyLoadContext
{
    private static readonly string DependencyDirectory = Path.Combine(
        Path.GetDirectoryName(typeof(DependencyLoadContext).Assembly.Location)!, "Dependencies");

    internal static readonly DependencyLoadContext Instance = new();

    private DependencyLoadContext()
        : base("AksAuditd.Dependencies", isCollectible: false)
    {
    }

    internal static Assembly? ResolveCore(AssemblyLoadContext context, AssemblyName name)
    {
        return name.Name == "AksAuditd.Core" ? Instance.LoadFromAssemblyName(name) : null;
    }

    protected override Assembly? Load(AssemblyName name)
    {
        var candidate = Path.Combine(DependencyDirectory, name.Name + ".dll");
        return File.Exists(candidate) ? LoadFromAssemblyPath(candidate) : null;
    }
}

/// <summary>
/// Hooks the resolver before the first cmdlet runs. PowerShell reflects over the cmdlet classes before it
/// calls <see cref="OnImport"/>, so a cmdlet class must not mention a Core type where reflection loads it:
/// no Core type as a parameter, a value-type field or in [OutputType] (name output types as strings).
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    private static int _hooked;

    public void OnImport() => Hook();

    private static void Hook()
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            AssemblyLoadContext.Default.Resolving += DependencyLoadContext.ResolveCore;
        }
    }
}
