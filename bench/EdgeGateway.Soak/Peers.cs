using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EdgeGateway.Soak;

/// <summary>A child process whose stdout lines go to a callback and whose last stderr/stdout lines are kept for errors.</summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private StreamWriter? _log;

    private ChildProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Tail
    {
        get
        {
            lock (_tail)
            {
                return string.Join('\n', _tail);
            }
        }
    }

    public static ChildProcess Start(string file, IEnumerable<string> args, Action<string>? onLine = null, IDictionary<string, string>? environment = null,
        string? logPath = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment.Remove("NOTIFY_SOCKET");
        info.Environment.Remove("WATCHDOG_USEC");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[k] = v;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process) { _log = logPath is null ? null : new StreamWriter(logPath, append: true) { AutoFlush = true } };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            onLine?.Invoke(e.Data);
            child.Keep(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                child.Keep(e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Keep(string line)
    {
        lock (_tail)
        {
            _log?.WriteLine(line);
            _tail.Enqueue(line);
            while (_tail.Count > 40)
            {
                _tail.Dequeue();
            }
        }
    }

    public void Signal(int signal) => _ = Kill(_process.Id, signal);

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            _process.WaitForExit();
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
        }

        _process.Dispose();
        lock (_tail)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigCont = 18;
    public const int SigStop = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);
}

/// <summary>Free ports and a loopback address of the soak's own, away from the test suite's 127.100+ range.</summary>
public static class Net
{
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static int FreeUdpPort(IPAddress address)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public static IPAddress SimulatorAddress()
    {
        var n = Random.Shared.Next(0, 40 * 250 * 200);
        return new IPAddress([127, (byte)(60 + n % 40), (byte)(n / 40 % 250), (byte)(2 + n / 10_000 % 200)]);
    }

    public static string Find(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var path = Path.Combine(dir, program);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"{program} not found: apt-get install -y mosquitto mosquitto-clients");
    }
}

/// <summary>Mosquitto with persistence (a graceful restart keeps the verifier's session and queue) on a free port.</summary>
public sealed class Broker(string directory) : IAsyncDisposable
{
    private ChildProcess? _process;

    public int Port { get; } = Net.FreeTcpPort();

    public bool Paused { get; private set; }

    public async Task StartAsync()
    {
        Directory.CreateDirectory(Path.Combine(directory, "data"));
        var conf = Path.Combine(directory, "mosquitto.conf");
        await File.WriteAllLinesAsync(conf,
        [
            Environment.UserName == "root" ? "user root" : "",
            $"listener {Port.ToString(CultureInfo.InvariantCulture)} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            $"persistence_location {directory}/data/",
            "autosave_interval 5",
            // The verifier may be away (reconnecting after a restart) while the gateway publishes: keep everything.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 20",
            $"log_dest file {directory}/mosquitto.log",
        ]);
        _process = ChildProcess.Start(Net.Find("mosquitto"), ["-c", conf]);
        await WaitUntilListening();
    }

    private async Task WaitUntilListening()
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                if (_process!.HasExited)
                {
                    throw new InvalidOperationException("mosquitto exited:\n" + _process.Tail);
                }

                await Task.Delay(100);
            }
        }

        throw new TimeoutException("mosquitto does not listen after 60 s");
    }

    /// <summary>SIGTERM (saves the persistence file), wait, start again on the same port.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await StopAsync();
        await Task.Delay(down);
        await StartAsync();
    }

    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        _process.Signal(ChildProcess.SigTerm);
        if (!await _process.WaitForExitAsync(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException("mosquitto did not stop within 30 s of SIGTERM");
        }

        await _process.DisposeAsync();
        _process = null;
    }

    public void Pause()
    {
        _process?.Signal(ChildProcess.SigStop);
        Paused = true;
    }

    public void Resume()
    {
        _process?.Signal(ChildProcess.SigCont);
        Paused = false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            _process.Signal(ChildProcess.SigCont);
            await _process.DisposeAsync();
        }
    }
}
