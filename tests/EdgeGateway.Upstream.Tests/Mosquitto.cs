using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// A real Eclipse Mosquitto 2.0 on a free loopback port, persistence on (so a graceful restart keeps the verifier's
/// session and queue). Fails, never skips, with the install command when the binary is missing.
/// </summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    public const string InstallCommand = "apt-get install -y mosquitto mosquitto-clients";
    private Process? _process;

    private Mosquitto(string dir, int port)
    {
        Directory = dir;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public string LogPath => Path.Combine(Directory, "broker.log");

    public static string Find(string name)
    {
        foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/usr/local/sbin"]))
        {
            if (d.Length > 0 && File.Exists(Path.Combine(d, name)))
            {
                return Path.Combine(d, name);
            }
        }

        throw new InvalidOperationException($"'{name}' was not found. Install it with: {InstallCommand}");
    }

    public static async Task<Mosquitto> StartAsync(string extraConfig = "")
    {
        var dir = Path.Combine(Path.GetTempPath(), "eg-upstream-mosq-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "data"));
        var broker = new Mosquitto(dir, FreePort.Tcp());
        // Comments only on their own lines: mosquitto.conf takes a trailing "# ..." as part of the value.
        var conf = string.Join('\n',
            Environment.UserName == "root" ? "user root" : "",
            "per_listener_settings false",
            $"listener {broker.Port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            $"persistence_location {dir}/data/",
            "autosave_interval 1",
            "autosave_on_changes false",
            "max_inflight_messages 20",
            "max_queued_messages 1000000",
            $"log_dest file {broker.LogPath}",
            "log_type all",
            "connection_messages true",
            extraConfig,
            "");
        await File.WriteAllTextAsync(Path.Combine(dir, "mosquitto.conf"), conf);
        await broker.LaunchAsync();
        return broker;
    }

    public async Task LaunchAsync()
    {
        var psi = new ProcessStartInfo(Find("mosquitto"), $"-c {Path.Combine(Directory, "mosquitto.conf")}")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        await TaskTimeouts.Eventually(() => CanConnect() || _process.HasExited, "mosquitto accepts TCP");
        Assert.False(_process.HasExited, $"mosquitto exited with {(_process.HasExited ? _process.ExitCode : 0)}; log: {SafeLog()}");
    }

    /// <summary>SIGTERM (the broker saves its DB) and wait for the exit.</summary>
    public async Task StopGracefullyAsync()
    {
        if (_process is not { HasExited: false } p)
        {
            return;
        }

        using (var kill = Process.Start("kill", $"-TERM {p.Id}"))
        {
            await kill.WaitForExitAsync().WithTimeout();
        }

        await p.WaitForExitAsync().WithTimeout();
        p.Dispose();
        _process = null;
    }

    public string SafeLog()
    {
        try
        {
            using var fs = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(fs).ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private bool CanConnect()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            await p.WaitForExitAsync().WithTimeout();
        }

        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>mosquitto_sub as a persistent QoS 1 verifier: "topic payload" per line, collected as they arrive.</summary>
internal sealed class MosquittoSub : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<(string Topic, string Payload)> _lines = [];

    public MosquittoSub(int port, string clientId, string topicFilter)
    {
        var psi = new ProcessStartInfo(Mosquitto.Find("mosquitto_sub"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", clientId, "-c", "-q", "1", "-t", topicFilter, "-v" })
        {
            psi.ArgumentList.Add(a);
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && line.IndexOf(' ', StringComparison.Ordinal) is var space and > 0)
            {
                lock (_lines)
                {
                    _lines.Add((line[..space], line[(space + 1)..]));
                }
            }
        };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public IReadOnlyList<(string Topic, string Payload)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WithTimeout();
        }

        _process.Dispose();
    }
}
