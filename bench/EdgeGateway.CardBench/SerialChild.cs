using System.Diagnostics;
using System.Globalization;
using System.IO.Ports;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Serial;
using static EdgeGateway.CardBench.Proc;

namespace EdgeGateway.CardBench;

/// <summary>
/// Child: opens a serial device with one implementation and feeds the project's NMEA driver (the same parser for
/// all, so only the port differs). "ours" = SerialPortStream; "ports-stream" = System.IO.Ports'
/// <c>SerialPort.BaseStream.ReadAsync</c>; "ports-event" = <c>SerialPort.DataReceived</c>. Prints READY, answers
/// each "MARK" on stdin with its CPU time and context switches, and prints "GONE …" the moment it notices the
/// device went away (or the way it noticed).
/// </summary>
internal static class SerialChild
{
    public static async Task<int> RunAsync(string[] args)
    {
        var (impl, path) = (args[0], args[1]);
        var sink = new CountingSink();
        var driver = new NmeaGpsDriver();
        var clock = Stopwatch.StartNew();
        var stdout = Console.Out;
        void Say(string line)
        {
            lock (stdout)
            {
                stdout.WriteLine(line);
                stdout.Flush();
            }
        }

        void Gone(string how) => Say($"GONE {clock.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} {how.ReplaceLineEndings(" ")}");

        Func<long> bytesRead;
        switch (impl)
        {
            case "ours":
            {
                var port = SerialPortStream.TryOpen(path, new SerialSettings(115200), out var failure) ?? throw new IOException(failure!.Message);
                bytesRead = () => port.BytesRead;
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await driver.RunAsync(port, sink, CancellationToken.None).ConfigureAwait(false);
                        Gone($"end of stream; Disconnect=\"{port.Disconnect}\"");
                    }
                    catch (Exception ex)
                    {
                        Gone($"{ex.GetType().Name}: {ex.Message}");
                    }
                });
                break;
            }

            case "ports-stream":
            {
                var sp = new SerialPort(path, 115200);
                sp.Open();
                long total = 0;
                bytesRead = () => Interlocked.Read(ref total);
                _ = Task.Run(async () =>
                {
                    var buffer = new byte[4096];
                    try
                    {
                        int n;
                        while ((n = await sp.BaseStream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                        {
                            Interlocked.Add(ref total, n);
                            driver.Push(buffer.AsSpan(0, n), sink);
                        }

                        Gone($"ReadAsync returned 0; IsOpen={sp.IsOpen}");
                    }
                    catch (Exception ex)
                    {
                        Gone($"{ex.GetType().Name}: {ex.Message}");
                    }
                });
                break;
            }

            case "ports-event":
            {
                var sp = new SerialPort(path, 115200);
                long total = 0;
                var buffer = new byte[4096];
                var reported = 0;
                bytesRead = () => Interlocked.Read(ref total);
                sp.DataReceived += (_, _) =>
                {
                    try
                    {
                        var n = sp.Read(buffer, 0, Math.Min(buffer.Length, Math.Max(1, sp.BytesToRead)));
                        Interlocked.Add(ref total, n);
                        driver.Push(buffer.AsSpan(0, n), sink);
                    }
                    catch (Exception ex) when (Interlocked.Exchange(ref reported, 1) == 0)
                    {
                        Gone($"DataReceived handler: {ex.GetType().Name}: {ex.Message}");
                    }
                };
                sp.ErrorReceived += (_, e) =>
                {
                    if (Interlocked.Exchange(ref reported, 1) == 0)
                    {
                        Gone($"ErrorReceived {e.EventType}");
                    }
                };
                sp.PinChanged += (_, e) =>
                {
                    if (Interlocked.Exchange(ref reported, 1) == 0)
                    {
                        Gone($"PinChanged {e.EventType}");
                    }
                };
                sp.Open();
                break;
            }

            default:
                throw new ArgumentException($"unknown serial implementation {impl}");
        }

        Say("READY");
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line == "MARK")
            {
                var (v, nv) = MqttPart.SelfContextSwitches();
                Say(Inv($"MARK cpu_us={Environment.CpuUsage.TotalTime.TotalMicroseconds:0} ctxv={v} ctxnv={nv} bytes={bytesRead()} readings={Interlocked.Read(ref sink.Readings)} t_ms={clock.Elapsed.TotalMilliseconds:0}"));
            }
        }

        return 0;
    }

    private sealed class CountingSink : ISensorSink
    {
        public long Readings;

        public void OnReading(SensorReading reading) => Interlocked.Increment(ref Readings);

        public void OnRejected(string reason)
        {
        }

        public void OnIgnored(string reason)
        {
        }
    }
}
