using System.Diagnostics;
using System.Net;
using System.Text;

namespace EdgeGateway.Tests;

/// <summary>
/// The real daemon as a child process (<c>dotnet edge-gateway.dll …</c>), with its output captured,
/// for tests of what a user or systemd sees: exit codes, messages, signals, readiness.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();

    private GatewayProcess(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static string DaemonPath => Path.Combine(AppContext.BaseDirectory, "edge-gateway.dll");

    public static GatewayProcess Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, string? executable = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo
        {
            FileName = executable ?? "dotnet",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (executable is null)
        {
            info.ArgumentList.Add(DaemonPath);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // A test must not inherit a systemd context from the machine that runs it.
        info.Environment.Remove("NOTIFY_SOCKET");
        info.Environment.Remove("WATCHDOG_USEC");
        info.Environment.Remove("WATCHDOG_PID");
        info.Environment.Remove("INVOCATION_ID");
        info.Environment.Remove("JOURNAL_STREAM");
        info.Environment.Remove("CREDENTIALS_DIRECTORY");
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var gp = new GatewayProcess(process);
        process.OutputDataReceived += (_, e) => gp.Append(e.Data);
        process.ErrorDataReceived += (_, e) => gp.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return gp;
    }

    /// <summary>
    /// Arguments that keep a test's gateway and simulator off every other test's ports and addresses, and
    /// off the standard 8889/8890 too: a gateway already running on this machine binds 0.0.0.0:8889, which
    /// would block any 127.x.y.z:8889.
    /// </summary>
    public static List<string> IsolatedSimulateArgs(string dataDir, out int httpPort, out IPAddress droneAddress)
    {
        httpPort = FreePort.Tcp();
        droneAddress = LoopbackAddress.Next();
        return
        [
            "--simulate", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{httpPort}",
            $"--Simulator:Address={droneAddress}", $"--Simulator:CommandPort={FreePort.Udp(droneAddress)}",
            "--Drones:CommandPort=0", $"--Drones:StatePort={FreePort.Udp()}",
        ];
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.AppendLine(line);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().WithTimeout(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    public void Signal(int signal) => _ = Kill(_process.Id, signal);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);

    public const int SigTerm = 15;
    public const int SigKill = 9;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _process.Dispose();
    }
}
