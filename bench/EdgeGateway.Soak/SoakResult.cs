using System.Globalization;

namespace EdgeGateway.Soak;

/// <summary>The figures of one run and whether every must-be-zero figure is zero.</summary>
public sealed class SoakResult
{
    public int Seed { get; init; }

    public double Minutes { get; init; }

    public int Clients { get; init; }

    public bool SmallFileSystem { get; init; }

    public IReadOnlyList<SinkReport> Sinks { get; init; } = [];

    public required IReadOnlyDictionary<FaultKind, int> FaultCounts { get; init; }

    public required IReadOnlyList<FaultKind> ExpectedKinds { get; init; }

    public int GatewayStarts { get; init; }

    public int UnexpectedExits { get; init; }

    public long PeakRssBytes { get; init; }

    public double CpuSeconds { get; init; }

    public double WallSeconds { get; init; }

    public long WebSocketFrames { get; init; }

    public long WebSocketConnects { get; init; }

    public int VerifierRestarts { get; init; }

    public long IntakeDropped { get; init; }

    public IReadOnlyList<string> Problems { get; init; } = [];

    public bool EveryKindInjected => ExpectedKinds.All(k => FaultCounts.TryGetValue(k, out var n) && n > 0);

    public bool Passed => Problems.Count == 0 && Sinks.Count == 2 && UnexpectedExits == 0 && EveryKindInjected
        && Sinks.All(s => s.Lost == 0 && s.LostUncovered == 0 && s.OrderViolations == 0 && s.MaxDuplicatesPerFault <= SoakRun.InflightWindow);

    public void Print(TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine();
        o.WriteLine($"Soak result: seed {Seed}, {Minutes.ToString(inv)} min of faults, {Clients} WebSocket clients, {WallSeconds:0} s in all, " +
            (SmallFileSystem ? "data directory on a 64 MiB tmpfs" : "FALLBACK: no small filesystem, byte budget only"));
        o.WriteLine();
        o.WriteLine("| Figure | " + string.Join(" | ", Sinks.Select(s => s.Sink)) + " | Must be |");
        o.WriteLine("|---|" + string.Concat(Sinks.Select(_ => "---:|")) + "---|");
        Row(o, "records committed (first..watermark)", s => s.Committed.ToString(inv), "");
        Row(o, "delivered (at least once)", s => s.Delivered.ToString(inv), "");
        Row(o, "lost (in the store, never delivered)", s => s.Lost.ToString(inv), "0");
        Row(o, "lost, evicted without a gap record", s => s.LostUncovered.ToString(inv), "0");
        Row(o, "evicted before delivery, covered by a gap record", s => s.EvictedUnsent.ToString(inv), "allowed");
        Row(o, "duplicates (total)", s => s.Duplicates.ToString(inv), "");
        Row(o, "duplicates in one fault's slot (max)", s => s.MaxDuplicatesPerFault.ToString(inv), $"≤ {SoakRun.InflightWindow} (window)");
        Row(o, "order violations on first delivery", s => s.OrderViolations.ToString(inv), "0");
        o.WriteLine();
        o.WriteLine("| Gateway | Value |");
        o.WriteLine("|---|---:|");
        o.WriteLine($"| starts (1 + kill -9 restarts) | {GatewayStarts} |");
        o.WriteLine($"| exits nobody asked for (must be 0) | {UnexpectedExits} |");
        o.WriteLine($"| peak RSS (VmHWM, simulator in-process) | {PeakRssBytes / 1048576.0:0.0} MiB |");
        o.WriteLine($"| CPU time (utime+stime, all runs) | {CpuSeconds:0.0} s = {100 * CpuSeconds / Math.Max(1, WallSeconds):0.0} % of one core |");
        o.WriteLine($"| records dropped at intake (no sequence, gap records) | {IntakeDropped} |");
        o.WriteLine($"| WebSocket frames received / (re)connects | {WebSocketFrames} / {WebSocketConnects} |");
        o.WriteLine($"| mosquitto_sub restarts | {VerifierRestarts} |");
        o.WriteLine();
        o.WriteLine("| Fault | Injected |");
        o.WriteLine("|---|---:|");
        foreach (var (kind, n) in FaultCounts)
        {
            o.WriteLine($"| {kind} | {(ExpectedKinds.Contains(kind) ? n.ToString(inv) : "n/a (no small filesystem)")} |");
        }

        foreach (var example in Sinks.SelectMany(s => s.Examples.Select(e => $"{s.Sink}: {e}")))
        {
            o.WriteLine("lost: " + example);
        }

        foreach (var p in Problems)
        {
            o.WriteLine("problem: " + p);
        }

        o.WriteLine();
        o.WriteLine(Passed ? "soak: PASS" : "soak: FAIL (a must-be-zero figure is not, a fault kind was never injected, or the drain did not finish)");
    }

    private void Row(TextWriter o, string name, Func<SinkReport, string> value, string must)
        => o.WriteLine($"| {name} | " + string.Join(" | ", Sinks.Select(value)) + $" | {must} |");
}
