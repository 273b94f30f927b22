using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EdgeGateway.Soak;

/// <summary>
/// The daemon (<c>dotnet edge-gateway.dll --simulate …</c>) as a child process: start, kill -9 and restart on the same
/// data directory, and a once-a-second sample of its peak RSS (VmHWM) and CPU time (utime+stime) across incarnations.
/// </summary>
public sealed class GatewayRunner(string dll, IReadOnlyList<string> args, IDictionary<string, string> environment, Uri api, string logPath) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly HttpClient _http = new() { BaseAddress = api, Timeout = TimeSpan.FromSeconds(10) };
    private ChildProcess? _process;
    private double _cpuOfEarlierRuns;
    private double _cpuOfThisRun;
    private long _peakRssBytes;
    private CancellationTokenSource? _sampling;
    private Task? _sampler;

    public int Starts { get; private set; }

    /// <summary>Exits nobody asked for (a crash): must stay 0.</summary>
    public int UnexpectedExits { get; private set; }

    public double CpuSeconds
    {
        get
        {
            lock (_gate)
            {
                return _cpuOfEarlierRuns + _cpuOfThisRun;
            }
        }
    }

    public long PeakRssBytes => Interlocked.Read(ref _peakRssBytes);

    public HttpClient Http => _http;

    public string Tail => _process?.Tail ?? "";

    public async Task StartAsync()
    {
        _process = ChildProcess.Start("dotnet", [dll, .. args], environment: environment, logPath: logPath);
        Starts++;
        lock (_gate)
        {
            _cpuOfThisRun = 0;
        }

        _sampling = new CancellationTokenSource();
        _sampler = Sample(_process.Pid, _sampling.Token);
        var until = Stopwatch.StartNew();
        while (await BufferStatusAsync() is null)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("the gateway exited at start:\n" + _process.Tail);
            }

            if (until.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException("the gateway's API does not answer 2 min after start:\n" + _process.Tail);
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Restarts a gateway that exited on its own, counting it; true when it had.</summary>
    public async Task<bool> RestartIfExitedAsync()
    {
        if (_process is null || !_process.HasExited)
        {
            return false;
        }

        UnexpectedExits++;
        await StopSamplingAsync();
        await _process.DisposeAsync();
        await StartAsync();
        return true;
    }

    public async Task KillAndRestartAsync()
    {
        _process!.Signal(ChildProcess.SigKill);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await StopSamplingAsync();
        await _process.DisposeAsync();
        await StartAsync();
    }

    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        _process.Signal(ChildProcess.SigTerm);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        await StopSamplingAsync();
        await _process.DisposeAsync();
        _process = null;
    }

    public async Task<JsonElement?> BufferStatusAsync()
    {
        try
        {
            using var response = await _http.GetAsync("/api/buffer");
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return doc.RootElement.Clone();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private async Task StopSamplingAsync()
    {
        if (_sampling is null)
        {
            return;
        }

        await _sampling.CancelAsync();
        await _sampler!;
        _sampling.Dispose();
        _sampling = null;
        lock (_gate)
        {
            _cpuOfEarlierRuns += _cpuOfThisRun;
            _cpuOfThisRun = 0;
        }
    }

    private async Task Sample(int pid, CancellationToken stop)
    {
        var ticksPerSecond = 100.0; // USER_HZ on Linux
        try
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat", stop);
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    var cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ticksPerSecond;
                    lock (_gate)
                    {
                        _cpuOfThisRun = cpu;
                    }

                    foreach (var line in await File.ReadAllLinesAsync($"/proc/{pid}/status", stop))
                    {
                        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        {
                            var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                            var bytes = kb * 1024;
                            long seen;
                            while (bytes > (seen = Interlocked.Read(ref _peakRssBytes)) && Interlocked.CompareExchange(ref _peakRssBytes, bytes, seen) != seen)
                            {
                            }
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
                {
                    // the process is gone or going; the last sample stands
                }

                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopSamplingAsync();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        _http.Dispose();
    }
}
