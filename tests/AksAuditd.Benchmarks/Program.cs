using System.Reflection;

namespace AksAuditd.Benchmarks;

/// <summary>One benchmark: measures its own baseline in the same run and prints ratios against it.</summary>
public interface IBenchmark
{
    /// <summary>Short name for --filter (rules, sync, events, loop).</summary>
    string Name { get; }

    void Run(BenchmarkContext context);
}

/// <summary>What every benchmark gets: the staged module, the repository, and a line printer.</summary>
public sealed record BenchmarkContext(string ModulePath, string RepositoryRoot, TextWriter Output)
{
    /// <summary>The audit-rules corpus copied into the repository (tests/fixtures/corpora/audit-rules).</summary>
    public string RulesCorpus => Path.Combine(RepositoryRoot, "tests", "fixtures", "corpora", "audit-rules");

    public void Report(string line) => Output.WriteLine(line);
}

public static class Program
{
    public static int Main(string[] args)
    {
        var filter = "*";
        var module = string.Empty;
        var repo = Directory.GetCurrentDirectory();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--filter": filter = args[i + 1]; break;
                case "--module": module = args[i + 1]; break;
                case "--repo": repo = args[i + 1]; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        var pattern = "^" + System.Text.RegularExpressions.Regex.Escape(filter).Replace("\\*", ".*").Replace("\\?", ".") + "$";
        var benchmarks = Assembly.GetExecutingAssembly().GetTypes()
            .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
            .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
            .Where(b => System.Text.RegularExpressions.Regex.IsMatch(b.Name, pattern, System.Text.RegularExpressions.RegexOptions.IgnoreCase))
            .OrderBy(b => b.Name)
            .ToList();
        if (benchmarks.Count == 0)
        {
            Console.Error.WriteLine($"no benchmark matches '{filter}'");
            return 2;
        }

        var context = new BenchmarkContext(module, repo, Console.Out);
        var failed = new List<string>();
        foreach (var benchmark in benchmarks)
        {
            context.Report($"== {benchmark.Name}");
            try
            {
                benchmark.Run(context);
            }
            catch (BenchmarkFailedException e)
            {
                context.Report($"FAILED {e.Message}");
                failed.Add(benchmark.Name);
            }
        }

        return failed.Count == 0 ? 0 : 1;
    }
}

/// <summary>A benchmark whose figures cannot be trusted (an event count that disagrees): the run exits non-zero.</summary>
public sealed class BenchmarkFailedException(string message) : Exception(message);
