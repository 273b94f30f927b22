using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeGateway.Bench;

/// <summary>
/// Starts the real daemon (<c>dotnet edge-gateway.dll --simulate</c>) with NOTIFY_SOCKET pointing at a unix
/// datagram socket bound here, and times Process.Start to the READY=1 datagram. Then SIGTERM, and times the exit.
/// </summary>
public static partial class StartupBench
{
    public static async Task RunAsync(ResultTable table, string daemonDll, int runs, string simAddress)
    {
        if (!File.Exists(daemonDll))
        {
            table.Add("process start to READY=1", $"daemon not found at {daemonDll}", "", "no");
            return;
        }

        Console.Error.WriteLine($"startup: {runs} runs of {daemonDll}");
        var ready = new List<double>();
        var selfReported = new List<double>();
        var exits = new List<double>();
        var rss = new List<double>();
        var failures = new List<string>();
        // One unmeasured start first: the first start after a build pays for cold file caches.
        for (var i = -1; i < runs; i++)
        {
            var r = await OnceAsync(daemonDll, simAddress).ConfigureAwait(false);
            if (i < 0)
            {
                continue;
            }

            if (r.Error is not null)
            {
                failures.Add(r.Error);
                continue;
            }

            ready.Add(r.ReadyMs);
            if (r.SelfReportedMs is { } s)
            {
                selfReported.Add(s);
            }

            if (r.ExitMs is { } e)
            {
                exits.Add(e);
            }

            if (r.RssMb is { } m)
            {
                rss.Add(m);
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  run {i + 1}: READY=1 after {r.ReadyMs:0} ms (daemon says {r.SelfReportedMs:0} ms), exit {r.ExitMs:0} ms after SIGTERM (code {r.ExitCode}), RSS {r.RssMb:0.0} MB"));
        }

        string Summary(List<double> v) => v.Count == 0 ? "n/a"
            : $"median {Stats.F(Stats.Percentile(v, 0.5), "0")} ms, min {Stats.F(v.Min(), "0")} ms, max {Stats.F(v.Max(), "0")} ms (n={v.Count})";
        table.Add("process start to READY=1 (Process.Start to datagram)", Summary(ready)
            + (failures.Count > 0 ? $"; {failures.Count} failed: {string.Join(" | ", failures.Distinct())}" : ""));
        table.Add("  daemon's own log \"Sent READY=1 ... ms after process start\"", Summary(selfReported));
        table.Add("SIGTERM to process exit", Summary(exits));
        table.Add($"idle RSS {IdleBeforeRss.TotalSeconds:0} s after READY=1 (VmRSS)", rss.Count == 0 ? "n/a"
            : string.Create(CultureInfo.InvariantCulture, $"median {Stats.Percentile(rss, 0.5):0.0} MB, min {rss.Min():0.0} MB, max {rss.Max():0.0} MB (n={rss.Count})"));
        if (!daemonDll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            table.Add("binary size", string.Create(CultureInfo.InvariantCulture, $"{new FileInfo(daemonDll).Length / 1048576.0:0.0} MB ({Path.GetFileName(daemonDll)})"));
        }
    }

    private sealed record Run(double ReadyMs, double? SelfReportedMs, double? ExitMs, int? ExitCode, string? Error, double? RssMb = null);

    /// <summary>How long the daemon idles (simulated drone and sensors streaming) after READY=1 before its RSS is read.</summary>
    private static readonly TimeSpan IdleBeforeRss = TimeSpan.FromSeconds(3);

    private static double? ResidentMegabytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task<Run> OnceAsync(string daemonDll, string simAddress)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"eg-drone-bench-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(dir);
        var socketPath = Path.Combine(dir, "notify.sock");
        try
        {
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(socketPath));
            // A .dll runs under the JIT (dotnet edge-gateway.dll); anything else is a published binary (NativeAOT, ReadyToRun).
            var isDll = daemonDll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
            var psi = new ProcessStartInfo(isDll ? "dotnet" : daemonDll)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[]
            {
                "--simulate", "--urls", "http://127.0.0.1:0", "--Drones:CommandPort=0",
                $"--Drones:StatePort={RoundTripBench.FreeUdpPort()}", $"--Simulator:Address={simAddress}",
                "--data-dir", Path.Combine(dir, "data"),
            })
            {
                psi.ArgumentList.Add(a);
            }

            if (isDll)
            {
                psi.ArgumentList.Insert(0, daemonDll);
            }

            psi.Environment["NOTIFY_SOCKET"] = socketPath;
            psi.Environment["DOTNET_NOLOGO"] = "1";
            var output = new StringBuilder();
            using var process = new Process { StartInfo = psi };
            process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };

            var sw = Stopwatch.StartNew();
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var buffer = new byte[4096];
            double? readyMs = null;
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                try
                {
                    while (readyMs is null)
                    {
                        var receive = notify.ReceiveAsync(buffer, SocketFlags.None, cts.Token).AsTask();
                        var exited = process.WaitForExitAsync(cts.Token);
                        if (await Task.WhenAny(receive, exited).ConfigureAwait(false) == exited && !receive.IsCompleted)
                        {
                            return new Run(0, null, null, process.ExitCode, $"daemon exited with {process.ExitCode} before READY=1: {Tail(output)}");
                        }

                        var n = await receive.ConfigureAwait(false);
                        var message = Encoding.UTF8.GetString(buffer, 0, n);
                        if (message.Split('\n').Contains("READY=1"))
                        {
                            readyMs = sw.Elapsed.TotalMilliseconds;
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    return new Run(0, null, null, null, $"no READY=1 within 60 s: {Tail(output)}");
                }
            }

            // Give the log line a moment to be flushed, let the daemon idle, read its resident set, then stop it the way
            // systemd does.
            await Task.Delay(IdleBeforeRss).ConfigureAwait(false);
            var rssMb = ResidentMegabytes(process.Id);
            var term = Stopwatch.StartNew();
            _ = Kill(process.Id, 15);
            double? exitMs = null;
            using (var exitCts = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            {
                try
                {
                    await process.WaitForExitAsync(exitCts.Token).ConfigureAwait(false);
                    exitMs = term.Elapsed.TotalMilliseconds;
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                }
            }

            string log;
            lock (output)
            {
                log = output.ToString();
            }

            var m = ReadyLogLine().Match(log);
            double? self = m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
            return new Run(readyMs.Value, self, exitMs, process.HasExited ? process.ExitCode : null, null, rssMb);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp dir is harmless.
            }
        }
    }

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            var s = output.ToString().Trim();
            return s.Length > 400 ? s[^400..] : s;
        }
    }

    [GeneratedRegex(@"Sent READY=1 to systemd ([0-9]+(?:\.[0-9]+)?) ms after process start")]
    private static partial Regex ReadyLogLine();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
