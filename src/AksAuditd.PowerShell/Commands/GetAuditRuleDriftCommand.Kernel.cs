using System.Management.Automation;
using AksAuditd.Core.Host;

namespace AksAuditd.PowerShell.Commands;

/// <summary>The -Kernel parameter set: desired rules (the augenrules merge of rules.d) against <c>auditctl -l</c>.</summary>
public sealed partial class GetAuditRuleDriftCommand
{
    private const string KernelParameterSet = "Kernel";

    /// <summary>Compare rules.d with the rules loaded in the kernel instead of with the source files.</summary>
    [Parameter(Mandatory = true, ParameterSetName = KernelParameterSet)]
    public SwitchParameter Kernel { get; set; }

    private void WriteKernelDrift()
    {
        var configuration = LoadConfiguration();
        var root = ResolveHostRoot(HostRoot, configuration);
        var rules = Core.Configuration.HostPath.Join(root, configuration.RulesDirectory);
        var runner = HostCommandRunner.For(root, Log);
        WriteVerbose($"Comparing {rules} with the kernel's rules through {runner.Mode}");
        RunOnNode(root, () =>
        {
            foreach (var drift in new KernelDriftReader(runner, RuleCanon(root)).Read(rules))
            {
                WriteObject(drift);
            }
        });
    }
}
