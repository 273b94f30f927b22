using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// A real Eclipse Mosquitto started from a generated config in a temp dir on free ports (reference §2.1-2.2).
/// Fails (never skips) with the install command when the binary is missing.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string InstallCommand = "apt-get install -y mosquitto mosquitto-clients";
    private Process? _process;

    private MosquittoBroker(string dir, string config, IReadOnlyDictionary<string, int> ports)
    {
        Directory = dir;
        ConfigPath = Path.Combine(dir, "mosquitto.conf");
        File.WriteAllText(ConfigPath, config);
        Ports = ports;
    }

    public string Directory { get; }
    public string ConfigPath { get; }
    public IReadOnlyDictionary<string, int> Ports { get; }
    public int Port => Ports["plain"];
    public string LogPath => Path.Combine(Directory, "broker.log");
    public int ProcessId => _process?.Id ?? 0;

    public static string FindBinary(string name)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/local/sbin", "/sbin"]);
        foreach (var d in dirs.Where(d => d.Length > 0))
        {
            var path = Path.Combine(d, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException($"'{name}' was not found. Install it with: {InstallCommand}");
    }

    /// <summary>
    /// Starts a broker. <paramref name="listeners"/> maps a name to the config lines of that listener; "PORT" in
    /// them is replaced by a free port; "DIR" anywhere by the temp dir.
    /// </summary>
    public static async Task<MosquittoBroker> StartAsync(IReadOnlyDictionary<string, string> listeners, string globalSettings = "",
        Action<string>? prepare = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "mqtt-test-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "data"));
        prepare?.Invoke(dir);
        var ports = new Dictionary<string, int>();
        var config = new System.Text.StringBuilder();
        // Comments only on their own lines: mosquitto.conf takes a trailing "# ..." as part of the value.
        if (Environment.UserName == "root")
        {
            config.AppendLine("user root");
        }

        config.AppendLine("per_listener_settings true");
        config.AppendLine("persistence true");
        config.AppendLine("persistence_location DIR/data/");
        config.AppendLine("autosave_interval 1");
        config.AppendLine("autosave_on_changes false");
        config.AppendLine("max_queued_messages 100000");
        config.AppendLine("log_dest file DIR/broker.log");
        config.AppendLine("log_type all");
        config.AppendLine("connection_messages true");
        config.AppendLine(globalSettings);
        foreach (var (name, lines) in listeners)
        {
            var port = TestSupport.FreePort.Tcp();
            ports[name] = port;
            config.AppendLine(lines.Replace("PORT", port.ToString(), StringComparison.Ordinal));
        }

        var broker = new MosquittoBroker(dir, config.ToString().Replace("DIR", dir, StringComparison.Ordinal), ports);
        await broker.StartProcessAsync();
        return broker;
    }

    public static Task<MosquittoBroker> StartPlainAsync(string globalSettings = "") =>
        StartAsync(new Dictionary<string, string> { ["plain"] = "listener PORT 127.0.0.1\nallow_anonymous true" }, globalSettings);

    public async Task StartProcessAsync()
    {
        var binary = FindBinary("mosquitto");
        _process = Process.Start(new ProcessStartInfo(binary, ["-c", ConfigPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("mosquitto did not start");
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var deadline = Deadline.In(TimeSpan.FromSeconds(15));
        foreach (var port in Ports.Values)
        {
            while (true)
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"mosquitto exited with {_process.ExitCode}; log: {ReadLog()}");
                }

                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync("127.0.0.1", port);
                    break;
                }
                catch (SocketException) when (!deadline.Passed)
                {
                    await Task.Delay(50);
                }
            }
        }
    }

    public Task FreezeAsync() => SignalAsync("STOP");

    public Task ThawAsync() => SignalAsync("CONT");

    /// <summary>Graceful stop (SIGTERM saves the persistence DB), then wait for exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } p)
        {
            await SignalAsync("CONT");
            await SignalAsync("TERM");
            await p.WaitForExitAsync().WithTimeout();
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartProcessAsync();
    }

    public string ReadLog()
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public Task WaitForLogAsync(string pattern, TimeSpan? timeout = null) =>
        TaskTimeouts.Eventually(() => Regex.IsMatch(ReadLog(), pattern), $"broker log matches /{pattern}/", timeout);

    private async Task SignalAsync(string signal)
    {
        if (_process is { HasExited: false } p)
        {
            using var kill = Process.Start("kill", [$"-{signal}", p.Id.ToString()]);
            await kill.WaitForExitAsync().WithTimeout();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            await SignalAsync("CONT");
            p.Kill();
            await p.WaitForExitAsync().WithTimeout();
        }

        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// One broker shared by the integration tests (unique topics and client ids per test): an anonymous listener and
/// a password listener (user gateway / s3cret). Tests that need other settings or that freeze the broker start their own.
/// </summary>
public sealed class SharedMosquitto : IAsyncLifetime
{
    public MosquittoBroker Broker { get; private set; } = null!;

    public int Port => Broker.Ports["plain"];

    public int PasswordPort => Broker.Ports["auth"];

    public async Task InitializeAsync()
    {
        Broker = await MosquittoBroker.StartAsync(new Dictionary<string, string>
        {
            ["plain"] = "listener PORT 127.0.0.1\nallow_anonymous true",
            ["auth"] = "listener PORT 127.0.0.1\nallow_anonymous false\npassword_file DIR/passwd\nacl_file DIR/acl",
        }, "max_inflight_messages 20", dir =>
        {
            using var p = Process.Start(MosquittoBroker.FindBinary("mosquitto_passwd"), ["-c", "-b", Path.Combine(dir, "passwd"), "gateway", "s3cret"]);
            p.WaitForExit();
            // gateway may publish under test/ only: anything else gets v5 PUBACK 0x87 (a plain PUBACK on 3.1.1).
            File.WriteAllText(Path.Combine(dir, "acl"), "user gateway\ntopic readwrite test/#\n");
        });
    }

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

[CollectionDefinition("mosquitto")]
public sealed class MosquittoCollection : ICollectionFixture<SharedMosquitto>;
