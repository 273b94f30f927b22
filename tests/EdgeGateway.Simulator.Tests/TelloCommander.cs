using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

/// <summary>A plain UDP commander (the test's side of the link) plus a simulator on 127.0.0.x, port 0.</summary>
internal sealed class SimulatorHarness : IAsyncDisposable
{
    private SimulatorHarness(TelloSimulator simulator, TelloCommander commander, TestLoggerProvider logs)
    {
        Simulator = simulator;
        Commander = commander;
        Logs = logs;
    }

    public TelloSimulator Simulator { get; }

    public TelloCommander Commander { get; }

    public TestLoggerProvider Logs { get; }

    public static async Task<SimulatorHarness> StartAsync(ITestOutputHelper output, Action<TelloSimulatorOptions>? configure = null,
        TimeProvider? time = null, string address = "127.0.0.2")
    {
        var logs = new TestLoggerProvider(output);
        var commander = new TelloCommander();
        var options = new TelloSimulatorOptions
        {
            Address = IPAddress.Parse(address),
            CommandPort = 0,
            StatePort = commander.StatePort,
            // 20x: takeoff 0.15-0.4 s. Auto-land after 3 s idle instead of 0.75 s, so a stall of a loaded CI machine
            // cannot land the drone mid-test; the auto-land tests set the real 15 s.
            TimeScale = 20,
            AutoLandTimeout = TimeSpan.FromSeconds(60),
        };
        configure?.Invoke(options);
        // Faults and state noise are drawn from this seed: a test that did not pin one gets a fresh one, reported
        // in its output (shown when it fails) and replayed with EDGEGW_TEST_SEED.
        if (options.Faults.Seed is { } pinned)
        {
            TestSeed.Report(output, "simulator fault seed", pinned);
        }
        else
        {
            options.Faults.Seed = TestSeed.Pick(output, "simulator fault seed");
        }

        var simulator = new TelloSimulator(options, time, logs.CreateLogger("sim"));
        await simulator.StartAsync().WithTimeout();
        commander.Drone = simulator.CommandEndPoint;
        return new SimulatorHarness(simulator, commander, logs);
    }

    /// <summary>Sends <c>command</c>, expects <c>ok</c>, and takes off (expects <c>ok</c>).</summary>
    public async Task TakeOffAsync()
    {
        Assert.Equal("ok", await Commander.AskAsync("command"));
        Assert.Equal("ok", await Commander.AskAsync("takeoff"));
    }

    public async ValueTask DisposeAsync()
    {
        await Simulator.DisposeAsync();
        Commander.Dispose();
        Logs.AssertNoUnexpectedErrors();
    }
}

internal sealed class TelloCommander : IDisposable
{
    private readonly UdpClient _command = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly UdpClient _state = new(new IPEndPoint(IPAddress.Loopback, 0));

    public IPEndPoint Drone { get; set; } = new(IPAddress.Loopback, 0);

    public int StatePort => ((IPEndPoint)_state.Client.LocalEndPoint!).Port;

    public IPEndPoint LocalCommandEndPoint => (IPEndPoint)_command.Client.LocalEndPoint!;

    public void Send(string text) => _command.Send(Encoding.ASCII.GetBytes(text), Drone);

    /// <summary>Sends and returns the next reply text (raw, not trimmed).</summary>
    public async Task<string> AskAsync(string text, TimeSpan? timeout = null)
    {
        Send(text);
        return await ReplyAsync(timeout);
    }

    public async Task<string> ReplyAsync(TimeSpan? timeout = null)
    {
        var datagram = await ReceiveReplyAsync(timeout);
        return Encoding.ASCII.GetString(datagram.Buffer);
    }

    /// <summary>The next reply, or null when none arrives within <paramref name="wait"/>.</summary>
    public async Task<string?> TryReplyAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var datagram = await _command.ReceiveAsync(cts.Token);
            return Encoding.ASCII.GetString(datagram.Buffer);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async Task<UdpReceiveResult> ReceiveReplyAsync(TimeSpan? timeout = null)
        => await _command.ReceiveAsync().WithTimeout(timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Asserts that nothing arrives on the command channel for <paramref name="window"/>.</summary>
    public async Task ExpectSilenceAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        try
        {
            var unexpected = await _command.ReceiveAsync(cts.Token);
            Assert.Fail($"Expected no reply, got \"{Encoding.ASCII.GetString(unexpected.Buffer)}\" from {unexpected.RemoteEndPoint}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task<UdpReceiveResult> ReceiveStateAsync(TimeSpan? timeout = null)
        => await _state.ReceiveAsync().WithTimeout(timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Discards whatever state datagrams are queued.</summary>
    public void DrainState()
    {
        while (_state.Available > 0)
        {
            IPEndPoint? any = null;
            _state.Receive(ref any);
        }
    }

    public async Task ExpectNoStateAsync(TimeSpan window)
    {
        DrainState();
        using var cts = new CancellationTokenSource(window);
        try
        {
            var unexpected = await _state.ReceiveAsync(cts.Token);
            Assert.Fail($"Expected no state, got \"{Encoding.ASCII.GetString(unexpected.Buffer)}\" from {unexpected.RemoteEndPoint}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The test's own view of a state datagram, tolerant of anything a corrupt one holds: an item without a colon
    /// is a key with an empty value, and a repeated key keeps its last value, as the gateway's
    /// <c>StateDatagramParser</c> lets a later value of a repeated key win.
    /// </summary>
    public static Dictionary<string, string> ParseState(string text)
    {
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in text.TrimEnd('\r', '\n').Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = item.Split(':', 2);
            state[kv[0]] = kv.Length > 1 ? kv[1] : "";
        }

        return state;
    }

    public void Dispose()
    {
        _command.Dispose();
        _state.Dispose();
    }
}
