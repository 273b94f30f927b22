using System.Diagnostics;
using System.Globalization;
using System.IO.Ports;
using System.Text;
using EdgeGateway.Sensors.Serial;
using EdgeGateway.Simulator.Serial;
using static EdgeGateway.CardBench.Proc;

namespace EdgeGateway.CardBench;

/// <summary>
/// SerialPortStream against System.IO.Ports on a real kernel pty (the simulator's <see cref="PseudoTerminal"/>:
/// this process writes the master, the child opens the slave as a USB serial adapter): idle CPU and context
/// switches with the port open and silent, CPU while 115200-baud NMEA arrives, and what each reports when the pty
/// goes away (unplug), and how fast.
/// </summary>
internal static class SerialPart
{
    private static readonly string[] Impls = ["ours", "ports-stream", "ports-event"];

    public static async Task RunAsync(Options o, ResultTable table)
    {
        var gps = new SimulatedGps(new DelegatePositionSource(() => (0, 0, 0)));
        var nmea = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 200).SelectMany(i => gps.Epoch(DateTimeOffset.UnixEpoch.AddSeconds(i)))));
        var results = new Dictionary<string, Result>();
        foreach (var impl in Impls)
        {
            results[impl] = await MeasureAsync(impl, nmea, o.SerialSeconds).ConfigureAwait(false);
            var r = results[impl];
            Console.WriteLine(Inv($"# serial {impl}: idle {r.IdleCpu:0.00} % {r.IdleCtx} ctx; reading {r.ReadCpu:0.00} % {r.ReadCtx} ctx, {r.Bytes} B, {r.Readings} readings; unplug: {r.Unplug}"));
        }

        var s = o.SerialSeconds;
        var ours = results["ours"];
        var ps = results["ports-stream"];
        var pe = results["ports-event"];
        table.Add("Serial", Inv($"CPU reading 115200-baud NMEA, {s} s (% of one core, child process)"), Inv($"{ours.ReadCpu:0.00} % ({ours.Bytes:N0} B, {ours.Readings} fixes)"),
            Inv($"BaseStream {ps.ReadCpu:0.00} % ({ps.ReadCpu / ours.ReadCpu:0.0}×); DataReceived {pe.ReadCpu:0.00} % ({pe.ReadCpu / ours.ReadCpu:0.0}×)"), "same NMEA driver behind each port; the writer is the parent");
        table.Add("Serial", Inv($"context switches while reading, {s} s (whole process)"), Inv($"{ours.ReadCtx:N0}"), Inv($"BaseStream {ps.ReadCtx:N0}; DataReceived {pe.ReadCtx:N0}"), "");
        table.Add("Serial", Inv($"idle CPU, port open, no data, {s} s"), Inv($"{ours.IdleCpu:0.00} %"), Inv($"BaseStream {ps.IdleCpu:0.00} %; DataReceived {pe.IdleCpu:0.00} %"), "");
        table.Add("Serial", Inv($"context switches while idle, {s} s (whole process)"), Inv($"{ours.IdleCtx:N0}"), Inv($"BaseStream {ps.IdleCtx:N0}; DataReceived {pe.IdleCtx:N0}"),
            "getrusage(RUSAGE_SELF) ru_nvcsw+ru_nivcsw of the child: every thread, also exited ones");
        table.Add("Serial", "unplug (pty closed): what it reports, after", ours.Unplug, $"BaseStream: {ps.Unplug}; DataReceived: {pe.Unplug}", "waited up to 5 s");
        table.Add("Serial", "device missing at open", MissingOurs(), MissingPorts(), "/dev/ttyEGW-missing");
    }

    private sealed record Result(double IdleCpu, long IdleCtx, double ReadCpu, long ReadCtx, long Bytes, long Readings, string Unplug);

    private static async Task<Result> MeasureAsync(string impl, byte[] nmea, int seconds)
    {
        var pty = PseudoTerminal.Open();
        using var p = Process.Start(Self(["serial-read", impl, pty.SlavePath]))!;
        var lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var pump = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                await lines.Writer.WriteAsync(line).ConfigureAwait(false);
            }

            lines.Writer.Complete();
        });
        async Task<string> Next(string prefix, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                var line = await lines.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line;
                }
            }
        }

        async Task<Dictionary<string, long>> Mark()
        {
            await p.StandardInput.WriteLineAsync("MARK").ConfigureAwait(false);
            await p.StandardInput.FlushAsync().ConfigureAwait(false);
            var line = await Next("MARK ", TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            return line[5..].Split(' ').Select(kv => kv.Split('=')).ToDictionary(a => a[0], a => long.Parse(a[1], CultureInfo.InvariantCulture));
        }

        try
        {
            await Next("READY", TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            await Task.Delay(1000).ConfigureAwait(false); // let start-up settle (JIT, thread pool)
            var a = await Mark().ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
            var b = await Mark().ConfigureAwait(false);
            // 115200 baud 8N1 = 11,520 bytes/s, written every 10 ms like a UART FIFO draining.
            const int chunk = 115;
            var sw = Stopwatch.StartNew();
            var offset = 0;
            var next = TimeSpan.Zero;
            while (sw.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                var n = Math.Min(chunk, nmea.Length - offset);
                pty.Write(nmea.AsSpan(offset, n));
                offset = (offset + n) % nmea.Length;
                next += TimeSpan.FromMilliseconds(10);
                var wait = next - sw.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait).ConfigureAwait(false);
                }
            }

            await Task.Delay(200).ConfigureAwait(false); // the last chunk read
            var c = await Mark().ConfigureAwait(false);
            pty.Dispose(); // unplug
            var unplugAt = Stopwatch.StartNew();
            string unplug;
            try
            {
                var gone = await Next("GONE ", TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                unplug = Inv($"{gone.Split(' ', 3)[2]} ({unplugAt.Elapsed.TotalMilliseconds:0} ms)");
            }
            catch (OperationCanceledException)
            {
                unplug = "nothing reported within 5 s";
            }

            double Cpu(Dictionary<string, long> from, Dictionary<string, long> to) => (to["cpu_us"] - from["cpu_us"]) / 1e4 / ((to["t_ms"] - from["t_ms"]) / 1000.0);
            long Ctx(Dictionary<string, long> from, Dictionary<string, long> to) => to["ctxv"] + to["ctxnv"] - from["ctxv"] - from["ctxnv"];
            return new Result(Cpu(a, b), Ctx(a, b), Cpu(b, c), Ctx(b, c), c["bytes"] - b["bytes"], c["readings"] - b["readings"], unplug);
        }
        finally
        {
            pty.Dispose();
            if (!p.HasExited)
            {
                p.Kill();
            }

            await p.WaitForExitAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
        }
    }

    private static string MissingOurs()
    {
        using var port = SerialPortStream.TryOpen("/dev/ttyEGW-missing", new SerialSettings(115200), out var failure);
        return failure is null ? "opened?!" : $"{failure.Error}: {failure.Message.Split(": ")[0]}";
    }

    private static string MissingPorts()
    {
        try
        {
            using var sp = new SerialPort("/dev/ttyEGW-missing", 115200);
            sp.Open();
            return "opened?!";
        }
        catch (Exception ex)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }
}
