using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using static EdgeGateway.CardBench.Proc;

namespace EdgeGateway.CardBench;

/// <summary>
/// QoS 1 publish, at most W unacknowledged, to a local mosquitto (persistence off): libmosquitto (bench_mosq.c, the
/// same harness as bench/mqtt-bench.sh), EdgeGateway.Mqtt and MQTTnet 5, interleaved, MQTT 3.1.1, clean session.
/// CPU is the client process's own (the .NET clients run in this process, libmosquitto in a child measured with
/// getrusage(RUSAGE_CHILDREN)); allocation is this process's allocated bytes over the run.
/// </summary>
internal static partial class MqttPart
{
    public static async Task RunAsync(Options o, ResultTable table)
    {
        var mosq = o.Mosq is { } m && File.Exists(m) ? m : null;
        if (mosq is null)
        {
            Console.WriteLine("# mqtt: no --mosq binary (bench/run-card-bench.sh builds it); libmosquitto column left empty");
        }

        var dir = Directory.CreateTempSubdirectory("card-bench-mqtt-").FullName;
        var port = FreePort();
        var conf = Path.Combine(dir, "bench.conf");
        await File.WriteAllTextAsync(conf, string.Join('\n',
            Environment.UserName == "root" ? "user root" : "",
            $"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "max_queued_messages 0",
            "max_inflight_messages 1000", "log_dest none", "")).ConfigureAwait(false);
        var broker = FindOnPath("mosquitto", "/usr/sbin", "/usr/local/sbin");
        if (broker.Length == 0)
        {
            throw new InvalidOperationException("mosquitto not found: apt-get install -y mosquitto");
        }

        using var p = Process.Start(new ProcessStartInfo(broker, ["-c", conf]) { UseShellExecute = false })!;
        try
        {
            await WaitForPortAsync(port).ConfigureAwait(false);
            // Warm-up so JIT tiering does not count against the first measured run of either .NET client.
            await OursAsync(port, Math.Min(o.MqttMessages, 20_000), 20, o.PayloadBytes).ConfigureAwait(false);
            await MqttNetClient.RunAsync(port, Math.Min(o.MqttMessages, 20_000), 20, o.PayloadBytes).ConfigureAwait(false);
            foreach (var w in o.Windows)
            {
                var c = new List<Run>();
                var ours = new List<Run>();
                var net = new List<Run>();
                for (var r = 0; r < o.MqttReps; r++)
                {
                    if (mosq is not null)
                    {
                        c.Add(await LibMosquittoAsync(mosq, port, o.MqttMessages, w, o.PayloadBytes).ConfigureAwait(false));
                    }

                    ours.Add(await OursAsync(port, o.MqttMessages, w, o.PayloadBytes).ConfigureAwait(false));
                    net.Add(await MqttNetClient.RunAsync(port, o.MqttMessages, w, o.PayloadBytes).ConfigureAwait(false));
                    Console.WriteLine(Inv($"# mqtt W={w} rep {r + 1}: libmosquitto {(c.Count > 0 ? c[^1].Rate : 0):0} msg/s, ours {ours[^1].Rate:0}, MQTTnet {net[^1].Rate:0}"));
                }

                var cRate = c.Count > 0 ? Median(c.Select(x => x.Rate)) : double.NaN;
                var oursRate = Median(ours.Select(x => x.Rate));
                var netRate = Median(net.Select(x => x.Rate));
                string Rate(List<Run> runs, double median) => Inv($"{median:N0} msg/s ({runs.Min(x => x.Rate):N0}-{runs.Max(x => x.Rate):N0}); {median / cRate:0.00}× libmosquitto");
                table.Add("MQTT", Inv($"QoS 1 throughput, W={w}, {o.PayloadBytes} B, median of {o.MqttReps}"), Rate(ours, oursRate), Rate(net, netRate),
                    c.Count > 0 ? Inv($"libmosquitto {cRate:N0} msg/s ({c.Min(x => x.Rate):N0}-{c.Max(x => x.Rate):N0})") : "libmosquitto not run");
                table.Add("MQTT", Inv($"client CPU per message, W={w}"), Inv($"{Median(ours.Select(x => x.CpuUs)):0.0} µs"), Inv($"{Median(net.Select(x => x.CpuUs)):0.0} µs"),
                    c.Count > 0 ? Inv($"libmosquitto {Median(c.Select(x => x.CpuUs)):0.0} µs (whole process)") : "");
                table.Add("MQTT", Inv($"allocated per message, W={w}"), Inv($"{Median(ours.Select(x => x.AllocBytes)):0} B"), Inv($"{Median(net.Select(x => x.AllocBytes)):0} B"), "GC.GetTotalAllocatedBytes over the run / N");
            }
        }
        finally
        {
            p.Kill();
            await p.WaitForExitAsync().ConfigureAwait(false);
            Directory.Delete(dir, true);
        }
    }

    internal readonly record struct Run(double Rate, double CpuUs, double AllocBytes);

    internal static Run Measure(int n, double seconds, TimeSpan cpu, long alloc) => new(n / seconds, cpu.TotalMicroseconds / n, (double)alloc / n);

    private static async Task<Run> OursAsync(int port, int n, int window, int size)
    {
        var options = new EdgeGateway.Mqtt.MqttClientOptions
        {
            Host = "127.0.0.1", Port = port, ClientId = "bench-eg", ProtocolVersion = EdgeGateway.Mqtt.MqttProtocolVersion.V311, CleanStart = true,
            KeepAlive = TimeSpan.FromSeconds(60), MaxInflight = window, MaxPending = Math.Max(window, 1),
        };
        await using var client = new EdgeGateway.Mqtt.MqttClient(options);
        var connect = await client.ConnectAsync().ConfigureAwait(false);
        if (!connect.IsConnected)
        {
            throw new InvalidOperationException(connect.ToString());
        }

        var payload = new byte[size];
        Array.Fill(payload, (byte)'0');
        var failed = 0;
        var run = await WindowedAsync(n, window, () => client.PublishAsync("bench/eg", payload), r =>
        {
            if (r.Status != EdgeGateway.Mqtt.PublishStatus.Acknowledged)
            {
                Interlocked.Increment(ref failed);
            }
        }).ConfigureAwait(false);
        return failed == 0 ? run : throw new InvalidOperationException($"{failed} publishes were not acknowledged");
    }

    /// <summary>
    /// At most <paramref name="window"/> publishes unacknowledged: W loops, each awaiting its PUBACK before its next
    /// PUBLISH (the C harness keeps the same bound with a counter). The loops allocate once, not per message, so the
    /// allocation per message is the client's own (a Task-returning client is awaited through a ValueTask wrapper,
    /// which allocates nothing).
    /// </summary>
    internal static async Task<Run> WindowedAsync<T>(int n, int window, Func<ValueTask<T>> publishOne, Action<T> check)
    {
        var next = -1;
        var cpu0 = Environment.CpuUsage.TotalTime;
        var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        var start = Stopwatch.GetTimestamp();
        var loops = new Task[window];
        for (var i = 0; i < window; i++)
        {
            loops[i] = Loop();
        }

        await Task.WhenAll(loops).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return Measure(n, seconds, Environment.CpuUsage.TotalTime - cpu0, GC.GetTotalAllocatedBytes(precise: true) - alloc0);

        async Task Loop()
        {
            await Task.Yield();
            while (Interlocked.Increment(ref next) < n)
            {
                check(await publishOne().ConfigureAwait(false));
            }
        }
    }

    private static async Task<Run> LibMosquittoAsync(string binary, int port, int n, int window, int size)
    {
        var before = ChildrenCpu();
        using var p = Process.Start(new ProcessStartInfo(binary, [n.ToString(CultureInfo.InvariantCulture), window.ToString(CultureInfo.InvariantCulture),
            port.ToString(CultureInfo.InvariantCulture), size.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var output = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        var cpu = ChildrenCpu() - before;
        var match = RateRegex().Match(output);
        return p.ExitCode == 0 && match.Success
            ? new Run(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), cpu.TotalMicroseconds / n, double.NaN)
            : throw new InvalidOperationException($"bench_mosq failed ({p.ExitCode}): {output}");
    }

    [GeneratedRegex(@"([0-9.]+) msg/s")]
    private static partial Regex RateRegex();

    internal static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UtimeSec;
        public long UtimeUsec;
        public long StimeSec;
        public long StimeUsec;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 14)]
        public long[] Rest;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRUsage(int who, out RUsage usage);

    /// <summary>Voluntary and involuntary context switches of this process, every thread that ever ran (RUSAGE_SELF).</summary>
    internal static (long Voluntary, long Involuntary) SelfContextSwitches()
    {
        if (GetRUsage(0, out var u) != 0)
        {
            throw new InvalidOperationException("getrusage failed");
        }

        return (u.Rest[12], u.Rest[13]); // ru_nvcsw, ru_nivcsw (after maxrss … nsignals)
    }

    /// <summary>User+system CPU of every child this process has waited for (RUSAGE_CHILDREN).</summary>
    internal static TimeSpan ChildrenCpu()
    {
        if (GetRUsage(-1, out var u) != 0)
        {
            throw new InvalidOperationException("getrusage failed");
        }

        return TimeSpan.FromMicroseconds((u.UtimeSec + u.StimeSec) * 1_000_000.0 + u.UtimeUsec + u.StimeUsec);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port)
    {
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }

        throw new InvalidOperationException("mosquitto did not start");
    }
}
