using System.Globalization;

namespace EdgeGateway.Bench;

/// <summary>
/// Drone-link benchmarks. Usage:
/// <c>EdgeGateway.Bench [--quick] [--only parse|roundtrip|startup] [--daemon PATH/edge-gateway.dll] [--runs N] [--sim-address IP]</c>.
/// Prints one table; every row names its target and whether it was met.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var quick = args.Contains("--quick");
        var only = Arg(args, "--only");
        var daemon = Arg(args, "--daemon");
        var runs = int.Parse(Arg(args, "--runs") ?? "7", CultureInfo.InvariantCulture);
        var simAddress = Arg(args, "--sim-address") ?? "127.55.0.2";
        var table = new ResultTable();

        if (only is null or "parse")
        {
            ParseBench.Run(table, quick);
        }

        if (only is null or "roundtrip")
        {
            await RoundTripBench.RunAsync(table, quick).ConfigureAwait(false);
        }

        if (only is null or "startup")
        {
            if (daemon is null)
            {
                Console.Error.WriteLine("startup: --daemon PATH/edge-gateway.dll not given; skipped");
            }
            else
            {
                await StartupBench.RunAsync(table, daemon, quick ? Math.Min(runs, 3) : runs, simAddress).ConfigureAwait(false);
            }
        }

        table.Print(Console.Out);
        return 0;
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>Rows of (benchmark, measured, target, verdict), printed as one Markdown table.</summary>
public sealed class ResultTable
{
    private readonly List<(string Name, string Value, string Target, string Verdict)> _rows = [];

    public void Add(string name, string value, string target = "", string verdict = "")
    {
        _rows.Add((name, value, target, verdict));
        // Progress on stderr so a long run shows life; the table goes to stdout at the end.
        Console.Error.WriteLine($"  {name}: {value} {(target.Length > 0 ? $"(target {target}: {verdict})" : "")}");
    }

    public void Print(TextWriter w)
    {
        w.WriteLine();
        w.WriteLine("| Benchmark | Measured | Target | Met? |");
        w.WriteLine("|---|---|---|---|");
        foreach (var (name, value, target, verdict) in _rows)
        {
            w.WriteLine($"| {name} | {value} | {target} | {verdict} |");
        }
    }
}

/// <summary>Percentiles over a sample, in the sample's unit.</summary>
public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        // Nearest-rank: the smallest value with at least p of the sample at or below it.
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static string F(double v, string format = "0.000") => v.ToString(format, CultureInfo.InvariantCulture);
}
