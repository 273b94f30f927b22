using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeGateway.Drones;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Records;
using EdgeGateway.Simulator;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Bench;

/// <summary>
/// <c>battery?</c> round trip through <see cref="TelloFleet"/> versus a bare UDP socket, both against the
/// same in-process <see cref="TelloSimulator"/>, interleaved in one run so both see the same machine load.
/// The simulator's reply latency (20-50 ms of drone time) is divided by its TimeScale; at 100,000 it is
/// 0.2-0.5 µs, i.e. nothing, and it is the same for both paths anyway.
/// </summary>
public static class RoundTripBench
{
    private const double TimeScale = 100_000;

    public static async Task RunAsync(ResultTable table, bool quick)
    {
        var iterations = quick ? 300 : 2000;
        Console.Error.WriteLine($"roundtrip: {iterations} interleaved pairs, MinCommandGap 0");
        var (link, raw, linkInternal) = await MeasureAsync(iterations, TimeSpan.Zero, pace: TimeSpan.Zero).ConfigureAwait(false);
        Report(table, "", link, raw, linkInternal);

        // The same with the default 100 ms MinCommandGap, paced at 150 ms so the gap has elapsed before each
        // link command: shows the gap costs nothing when callers do not send faster than it allows.
        var paced = quick ? 20 : 100;
        Console.Error.WriteLine($"roundtrip: {paced} pairs, default MinCommandGap 100 ms, paced every 150 ms");
        var (link2, raw2, linkInternal2) = await MeasureAsync(paced, new DroneOptions().MinCommandGap, TimeSpan.FromMilliseconds(150)).ConfigureAwait(false);
        Report(table, ", default gap, paced 150 ms", link2, raw2, linkInternal2);
    }

    private static void Report(ResultTable table, string label, List<double> link, List<double> raw, List<double> linkInternal)
    {
        string Row(List<double> v) =>
            $"p50 {Stats.F(Stats.Percentile(v, 0.5))} ms, p99 {Stats.F(Stats.Percentile(v, 0.99))} ms, mean {Stats.F(v.Average())} ms (n={v.Count})";
        table.Add($"round trip battery?, raw UDP{label}", Row(raw));
        table.Add($"round trip battery?, through TelloFleet{label}", Row(link));
        table.Add($"  link's own DroneCommandResult.Latency{label}", Row(linkInternal));
        var paired = link.Zip(raw, (l, r) => l - r).ToList();
        var p50 = Stats.Percentile(link, 0.5) - Stats.Percentile(raw, 0.5);
        var mean = link.Average() - raw.Average();
        var p99 = Stats.Percentile(link, 0.99) - Stats.Percentile(raw, 0.99);
        var met = p50 <= 1.0 && mean <= 1.0;
        table.Add($"link overhead (link - raw){label}",
            $"p50 {Stats.F(p50)} ms, mean {Stats.F(mean)} ms, p99 {Stats.F(p99)} ms; median of paired differences {Stats.F(Stats.Percentile(paired, 0.5))} ms",
            "<= 1 ms (p50 and mean)", met ? "yes" : "NO");
    }

    private static async Task<(List<double> Link, List<double> Raw, List<double> LinkInternal)> MeasureAsync(
        int iterations, TimeSpan minCommandGap, TimeSpan pace)
    {
        var statePort = FreeUdpPort();
        await using var sim = new TelloSimulator(new TelloSimulatorOptions
        {
            Address = IPAddress.Parse("127.56.0.2"),
            CommandPort = 0,
            StatePort = statePort,
            TimeScale = TimeScale,
            SerialNumber = "0TQDG7BENCH001",
        });
        await sim.StartAsync().ConfigureAwait(false);
        var simEndPoint = sim.CommandEndPoint;

        var options = new DroneOptions
        {
            LocalAddress = "127.0.0.1",
            CommandPort = 0,
            StatePort = statePort,
            MinCommandGap = minCommandGap,
            // Generous so a loaded machine never turns a slow reply into a timeout and a resync.
            CommandTimeout = TimeSpan.FromSeconds(10),
            LostAfter = TimeSpan.FromSeconds(30),
            DegradedAfter = TimeSpan.FromSeconds(10),
            Items = [new DroneEndpointOptions { Id = "bench", Address = simEndPoint.ToString() }],
        };
        await using var fleet = new TelloFleet(options, new DiscardRecords(), new SystemWallClock(TimeProvider.System),
            TimeProvider.System, NullLoggerFactory.Instance);
        await fleet.StartAsync().ConfigureAwait(false);
        var drone = fleet.Drones[0];
        var wait = Stopwatch.StartNew();
        while (!drone.Status.Connected)
        {
            if (wait.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"the link did not connect to the simulator within 30 s (health {drone.Status.Health})");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        raw.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        raw.Connect(simEndPoint);
        var request = Encoding.ASCII.GetBytes("battery?");
        var buffer = new byte[2048];
        var battery = TelloCommand.ReadOf(TelloRead.Battery);

        async Task<double> RawOnce()
        {
            var start = Stopwatch.GetTimestamp();
            await raw.SendAsync(request, SocketFlags.None).ConfigureAwait(false);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var n = await raw.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var text = Encoding.ASCII.GetString(buffer, 0, n).Trim();
            return int.TryParse(text, out _) ? ms : throw new InvalidOperationException($"raw reply \"{text}\" is not a battery value");
        }

        async Task<(double Outside, double Inside)> LinkOnce()
        {
            var start = Stopwatch.GetTimestamp();
            var r = await drone.ExecuteAsync(battery).ConfigureAwait(false);
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            return r.Outcome == DroneCommandOutcome.Ok
                ? (ms, r.Latency.TotalMilliseconds)
                : throw new InvalidOperationException($"link battery? gave {r.Outcome} ({r.Reply})");
        }

        // Warm-up: JIT, socket buffers, thread pool.
        for (var i = 0; i < Math.Min(200, iterations); i++)
        {
            await RawOnce().ConfigureAwait(false);
            await LinkOnce().ConfigureAwait(false);
        }

        var link = new List<double>(iterations);
        var rawTimes = new List<double>(iterations);
        var inside = new List<double>(iterations);
        for (var i = 0; i < iterations; i++)
        {
            if (pace > TimeSpan.Zero)
            {
                await Task.Delay(pace).ConfigureAwait(false);
            }

            // Alternate which goes first so neither always runs right after the other.
            if (i % 2 == 0)
            {
                rawTimes.Add(await RawOnce().ConfigureAwait(false));
                var (o, n) = await LinkOnce().ConfigureAwait(false);
                link.Add(o);
                inside.Add(n);
            }
            else
            {
                var (o, n) = await LinkOnce().ConfigureAwait(false);
                link.Add(o);
                inside.Add(n);
                rawTimes.Add(await RawOnce().ConfigureAwait(false));
            }
        }

        await fleet.StopAsync().ConfigureAwait(false);
        return (link, rawTimes, inside);
    }

    internal static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>The records go nowhere: the benchmark measures the link, not the buffer.</summary>
    private sealed class DiscardRecords : IRecordWriter
    {
        public bool TryWrite(TelemetryRecord record) => true;
    }
}
