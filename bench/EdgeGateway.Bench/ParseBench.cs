using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using EdgeGateway.Drones;
using EdgeGateway.Drones.Tello;

namespace EdgeGateway.Bench;

/// <summary>
/// State datagram and reply parsing on one thread. Reports datagrams per wall-clock second and per
/// CPU second of this thread (the machine is shared, so wall-clock rates understate a free core),
/// and bytes allocated per call from <see cref="GC.GetAllocatedBytesForCurrentThread"/>.
/// </summary>
public static class ParseBench
{
    // Real captures from tello-reference.md §5, with the trailing CR/LF real drones send.
    private static readonly (string Name, string Text)[] States =
    [
        ("SDK 1.3", "pitch:0;roll:-1;yaw:0;vgx:0;vgy:0;vgz:0;templ:46;temph:49;tof:10;h:0;bat:100;baro:18.92;time:0;agx:-12.00;agy:16.00;agz:-993.00;\r\n"),
        ("SDK 2.0", "mid:-1;x:0;y:0;z:0;mpry:0,0,0;pitch:0;roll:5;yaw:0;vgx:0;vgy:0;vgz:0;templ:44;temph:47;tof:10;h:0;bat:100;baro:17.84;time:0;agx:10.00;agy:-98.00;agz:-988.00;\r\n"),
        ("SDK 3.0 (EDU)", "mid:-1;x:-100;y:-100;z:-100;mpry:-1,-1,-1;pitch:0;roll:0;yaw:0;vgx:0;vgy:0;vgz:0;templ:66;temph:68;tof:6553;h:0;bat:5;baro:118.26;time:0;agx:7.00;agy:0.00;agz:-997.00;\r\n"),
    ];

    // Raw replies as real drones send them (tello-reference.md §3.3), judged against their command.
    private static readonly (string Name, TelloCommand Command, string Reply)[] Replies =
    [
        ("ok to takeoff", TelloCommand.Takeoff, "ok"),
        ("battery? 87", TelloCommand.ReadOf(TelloRead.Battery), "87"),
        ("height? 15dm", TelloCommand.ReadOf(TelloRead.Height), "15dm"),
        ("tof? 875mm", TelloCommand.ReadOf(TelloRead.Tof), "875mm"),
        ("temp? 85~88C", TelloCommand.ReadOf(TelloRead.Temperature), "85~88C"),
        ("speed? 100.0", TelloCommand.ReadOf(TelloRead.Speed), "100.0"),
        ("attitude? pitch:0;roll:-1;yaw:0;", TelloCommand.ReadOf(TelloRead.Attitude), "pitch:0;roll:-1;yaw:0;"),
    ];

    public static void Run(ResultTable table, bool quick)
    {
        Console.Error.WriteLine("parse: state datagrams");
        var seconds = quick ? 0.5 : 2.0;
        foreach (var (name, text) in States)
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            if (StateDatagramParser.TryParse(bytes, out var check) != StateParseResult.Ok || check?.BatteryPercent is null)
            {
                table.Add($"state parse, {name}", "PARSE FAILED", "", "no");
                continue;
            }

            var r = Measure(() =>
            {
                StateDatagramParser.TryParse(bytes, out var s);
                return s is null ? 0 : 1;
            }, seconds);
            table.Add($"state parse, {name} ({bytes.Length} B)",
                $"{r.PerWallSecond:N0} datagrams/s wall, {r.PerCpuSecond:N0}/CPU-s; {r.BytesPerCall:N0} B allocated/datagram",
                "", "");
        }

        Console.Error.WriteLine("parse: replies");
        foreach (var (name, command, reply) in Replies)
        {
            if (ReplyParser.Match(command, reply, out _) != ReplyMatch.Success)
            {
                table.Add($"reply parse, {name}", "NOT SUCCESS", "", "no");
                continue;
            }

            var r = Measure(() => (int)ReplyParser.Match(command, reply, out _), seconds / 2);
            table.Add($"reply parse, {name}",
                $"{r.PerWallSecond:N0} replies/s wall, {r.PerCpuSecond:N0}/CPU-s; {r.BytesPerCall:N0} B allocated/reply",
                "", "");
        }
    }

    private readonly record struct Rate(double PerWallSecond, double PerCpuSecond, double BytesPerCall);

    private static Rate Measure(Func<int> op, double seconds)
    {
        // Warm up through the JIT tiers (tier-0, OSR, tier-1 with PGO) before measuring.
        var sink = 0;
        for (var i = 0; i < 200_000; i++)
        {
            sink += op();
        }

        // Size a batch to roughly 50 ms, then run whole batches until the time is spent.
        var probe = Stopwatch.StartNew();
        var probeN = 0;
        while (probe.Elapsed.TotalMilliseconds < 50)
        {
            sink += op();
            probeN++;
        }

        var batch = Math.Max(1000, probeN);
        long n = 0;
        var alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var cpu0 = ThreadCpuSeconds();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            for (var i = 0; i < batch; i++)
            {
                sink += op();
            }

            n += batch;
        }

        sw.Stop();
        var cpu = ThreadCpuSeconds() - cpu0;
        var alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        GC.KeepAlive(sink);
        return new Rate(n / sw.Elapsed.TotalSeconds, cpu > 0 ? n / cpu : double.NaN, (double)alloc / n);
    }

    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clockId, out TimeSpec value);

    /// <summary>CPU time consumed by the calling thread (Linux), so other tenants' load does not count.</summary>
    private static double ThreadCpuSeconds() =>
        ClockGetTime(ClockThreadCpuTimeId, out var t) == 0 ? t.Seconds + (t.Nanoseconds / 1e9) : double.NaN;
}
