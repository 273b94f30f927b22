using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// A private RabbitMQ node (Debian's rabbitmq-server, MQTT plugin on) in a temp dir on free loopback ports: its own
/// node name, Mnesia and log dirs, config, enabled-plugins file and Erlang cookie (HOME), so it never touches a system
/// node. Started through <c>/usr/lib/rabbitmq/bin/rabbitmq-server</c>, which runs as the calling user (the
/// <c>/usr/sbin</c> wrapper would switch to the rabbitmq user, who cannot write the temp dir). Stopped with SIGTERM
/// to the Erlang VM, which shuts the node down cleanly (messages and durable queues are kept for a restart).
/// Fails, never skips, with the install command when the package is missing.
/// </summary>
public sealed class RabbitMq : IAsyncLifetime
{
    public const string InstallCommand = "apt-get install -y rabbitmq-server";
    private const string Server = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private readonly string _node = $"egtest-{Guid.NewGuid().ToString("N")[..8]}@localhost";
    private Process? _process;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "eg-rabbitmq-" + Guid.NewGuid().ToString("N")[..12]);

    public int MqttPort { get; } = FreePort.Tcp();

    private int AmqpPort { get; } = FreePort.Tcp();

    private int DistributionPort { get; } = FreePort.Tcp();

    /// <summary>The node's own Erlang port mapper (epmd), so the test run never starts or leaves a shared one behind.</summary>
    private int EpmdPort { get; } = FreePort.Tcp();

    /// <summary>How long the last start took (the Erlang VM and the node's boot; seconds on a busy machine).</summary>
    public TimeSpan LastStart { get; private set; }

    public async Task InitializeAsync()
    {
        if (!File.Exists(Server))
        {
            throw new InvalidOperationException($"RabbitMQ was not found ({Server}). Install it with: {InstallCommand}");
        }

        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "mnesia"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "log"));
        await File.WriteAllTextAsync(Path.Combine(Directory, "rabbitmq.conf"), string.Join('\n',
            $"listeners.tcp.default = 127.0.0.1:{AmqpPort}",
            $"mqtt.listeners.tcp.default = 127.0.0.1:{MqttPort}",
            "mqtt.allow_anonymous = true",
            "loopback_users = none",
            ""));
        await File.WriteAllTextAsync(Path.Combine(Directory, "enabled_plugins"), "[rabbitmq_mqtt].\n");
        await StartAsync();
    }

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo(Server)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var env = psi.Environment;
        env["HOME"] = Directory;
        env["RABBITMQ_NODENAME"] = _node;
        env["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        env["RABBITMQ_NODE_PORT"] = AmqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["RABBITMQ_DIST_PORT"] = DistributionPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["RABBITMQ_MNESIA_BASE"] = Path.Combine(Directory, "mnesia");
        env["RABBITMQ_LOG_BASE"] = Path.Combine(Directory, "log");
        env["RABBITMQ_CONFIG_FILE"] = Path.Combine(Directory, "rabbitmq.conf");
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(Directory, "enabled_plugins");
        env["RABBITMQ_PID_FILE"] = PidFile;
        env["ERL_EPMD_PORT"] = EpmdPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var started = Stopwatch.StartNew();
        _process = Process.Start(psi) ?? throw new InvalidOperationException("rabbitmq-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        // The Erlang VM boots in seconds on a quiet machine, tens of seconds on a busy one.
        await TaskTimeouts.Eventually(() => AcceptsMqtt() || _process.HasExited, "RabbitMQ's MQTT listener accepts TCP", TimeSpan.FromSeconds(180), TimeSpan.FromMilliseconds(200));
        Assert.False(_process.HasExited, $"rabbitmq-server exited with {(_process.HasExited ? _process.ExitCode : 0)}; log: {Log()}");
        LastStart = started.Elapsed;
    }

    private string PidFile => Path.Combine(Directory, "rabbit.pid");

    /// <summary>SIGTERM to the Erlang VM: a clean shutdown (queues and persistent messages kept).</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } p)
        {
            return;
        }

        if (File.Exists(PidFile) && int.TryParse((await File.ReadAllTextAsync(PidFile)).Trim(), out var vm))
        {
            using var kill = Process.Start("kill", ["-TERM", vm.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync().WithTimeout();
        }

        try
        {
            await p.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }

            p.Dispose();
            _process = null;
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    public string Log()
    {
        try
        {
            var file = System.IO.Directory.GetFiles(Path.Combine(Directory, "log"), "*.log").FirstOrDefault();
            if (file is null)
            {
                return "";
            }

            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private bool AcceptsMqtt()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect(IPAddress.Loopback, MqttPort);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        // The VM started a port mapper on the private port; it outlives the node unless told to stop.
        try
        {
            using var epmd = Process.Start(new ProcessStartInfo("epmd", ["-port", EpmdPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-kill"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (epmd is not null)
            {
                await epmd.WaitForExitAsync().WithTimeout();
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // epmd comes with erlang-base, which rabbitmq-server depends on; nothing to stop without it.
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One RabbitMQ node for the tests that need it (its start takes seconds: Erlang).</summary>
[CollectionDefinition("rabbitmq")]
public sealed class RabbitMqCollection : ICollectionFixture<RabbitMq>;
