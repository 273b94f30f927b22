using System.Globalization;

namespace EdgeGateway.CardBench;

/// <summary>
/// The design card's packages (MQTTnet, LiteDB, System.IO.Ports) against the project's own parts, in one run on one
/// machine, printed as one table. Child modes (buf-*, serial-read) are this same program started by the parent so
/// that CPU, fsyncs, context switches and kill -9 are measured per process. See bench/run-card-bench.sh.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && Children.TryGetValue(args[0], out var child))
        {
            return await child(args[1..]).ConfigureAwait(false);
        }

        var o = Options.Parse(args);
        if (o is null)
        {
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }

        var table = new ResultTable();
        Console.WriteLine($"# card bench: {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, seed {o.Seed}, parts {string.Join(',', o.Parts)}");
        Console.WriteLine($"# load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
        if (o.Parts.Contains("mqtt"))
        {
            await MqttPart.RunAsync(o, table).ConfigureAwait(false);
        }

        if (o.Parts.Contains("buffer"))
        {
            await BufferPart.RunAsync(o, table).ConfigureAwait(false);
        }

        if (o.Parts.Contains("serial"))
        {
            await SerialPart.RunAsync(o, table).ConfigureAwait(false);
        }

        Console.WriteLine();
        table.Print(Console.Out);
        Console.WriteLine($"# load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static readonly Dictionary<string, Func<string[], Task<int>>> Children = new(StringComparer.Ordinal)
    {
        ["buf-append"] = BufferChildren.AppendAsync,
        ["buf-size"] = BufferChildren.SizeAsync,
        ["buf-crash"] = BufferChildren.CrashAsync,
        ["serial-read"] = SerialChild.RunAsync,
    };
}

/// <summary>Command line of the parent run.</summary>
public sealed record Options(
    IReadOnlySet<string> Parts, string? Mosq, int MqttMessages, int MqttReps, int[] Windows, int PayloadBytes,
    int AppendRecords, int SizeRecords, int KillRounds, int StraceRecords, int SerialSeconds, int Seed)
{
    public const string Usage = """
        usage: EdgeGateway.CardBench [--only mqtt,buffer,serial] [--mosq PATH_TO_bench_mosq]
               [--n 50000] [--reps 3] [--windows 20,100] [--size 64]            (mqtt)
               [--append 200000] [--records 1000000] [--rounds 10] [--strace-records 100000]   (buffer)
               [--serial-seconds 10]                                           (serial)
               [--seed N]  (kill -9 timing; default EDGEGW_TEST_SEED or random, always printed)
        """;

    public static Options? Parse(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                return null;
            }

            d[args[i][2..]] = args[++i];
        }

        int I(string k, int def) => d.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : def;
        var seedText = d.GetValueOrDefault("seed") ?? Environment.GetEnvironmentVariable("EDGEGW_TEST_SEED");
        var seed = seedText is null ? Random.Shared.Next() : int.Parse(seedText, CultureInfo.InvariantCulture);
        var parts = d.GetValueOrDefault("only", "mqtt,buffer,serial").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        if (parts.Except(["mqtt", "buffer", "serial"]).Any())
        {
            return null;
        }

        return new Options(parts, d.GetValueOrDefault("mosq"), I("n", 50_000), I("reps", 3),
            d.GetValueOrDefault("windows", "20,100").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(), I("size", 64),
            I("append", 200_000), I("records", 1_000_000), I("rounds", 10), I("strace-records", 100_000), I("serial-seconds", 10), seed);
    }
}

/// <summary>The one table: a row per measure, the project's part and the card's package side by side.</summary>
public sealed class ResultTable
{
    private readonly List<string[]> _rows = [];

    public void Add(string part, string measure, string ours, string card, string note) => _rows.Add([part, measure, ours, card, note]);

    public void Print(TextWriter w)
    {
        w.WriteLine("| Part | Measure | Project's part | Card package | Reference / note |");
        w.WriteLine("|---|---|---|---|---|");
        foreach (var r in _rows)
        {
            w.WriteLine($"| {string.Join(" | ", r)} |");
        }
    }
}

/// <summary>Small process helpers shared by the parts.</summary>
internal static class Proc
{
    /// <summary>This program again, as a child in one of its child modes.</summary>
    public static System.Diagnostics.ProcessStartInfo Self(IEnumerable<string> args, string? wrapper = null, IEnumerable<string>? wrapperArgs = null)
    {
        var exe = Environment.ProcessPath!;
        var all = new List<string>();
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
        {
            all.Add(typeof(Program).Assembly.Location);
        }

        all.AddRange(args);
        System.Diagnostics.ProcessStartInfo psi;
        if (wrapper is null)
        {
            psi = new(exe, all);
        }
        else
        {
            psi = new(wrapper, [.. wrapperArgs ?? [], exe, .. all]);
        }

        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardInput = true;
        return psi;
    }

    /// <summary>Key=value pairs from a child's "RESULT k=v k=v" line.</summary>
    public static Dictionary<string, string> ParseResult(string output)
    {
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"child printed no RESULT line:\n{output}");
        return line[7..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(p => p[0], p => p[1].Replace('_', ' '));
    }

    public static async Task<Dictionary<string, string>> RunChildAsync(System.Diagnostics.ProcessStartInfo psi)
    {
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Close();
        var output = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        return p.ExitCode == 0 ? ParseResult(output) : throw new InvalidOperationException($"{string.Join(' ', psi.ArgumentList)} exited {p.ExitCode}:\n{output}");
    }

    public static double D(this Dictionary<string, string> r, string key) => double.Parse(r[key], CultureInfo.InvariantCulture);

    public static string Inv(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>Peak resident set of this process (VmHWM), bytes.</summary>
    public static long PeakRss() => StatusKb("VmHWM:") * 1024;

    public static long StatusKb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    public static long DirBytes(string dir) => Directory.EnumerateFiles(dir).Sum(f => new FileInfo(f).Length);

    public static string Mb(double bytes) => Inv($"{bytes / 1024 / 1024:0.0} MB");

    public static string FindOnPath(string name, params string[] extra)
    {
        foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(extra))
        {
            if (d.Length > 0 && File.Exists(Path.Combine(d, name)))
            {
                return Path.Combine(d, name);
            }
        }

        return "";
    }
}
