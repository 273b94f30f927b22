using System.Diagnostics;
using EdgeGateway.Health;
using EdgeGateway.Hosting.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Hosting.Tests;

public sealed class SystemdNotifyTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly List<IHost> _hosts = [];

    private async Task<IHost> StartHost(SystemdEnvironment environment, TimeProvider time, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(_logs).SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(environment);
        services?.Invoke(builder.Services);
        builder.Services.AddGatewayHosting(builder.Configuration.GetSection(HostingOptions.SectionName));
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync().WithTimeout();
        return host;
    }

    private static SystemdEnvironment Env(NotifySocketPeer peer, string? watchdogUsec = null, string? watchdogPid = null)
        => new(peer.NotifySocket, watchdogUsec, watchdogPid, IsSystemdService: true);

    [Fact]
    public async Task Ready_is_sent_only_after_the_readiness_gate_opens_on_a_path_socket()
    {
        using var peer = NotifySocketPeer.AtPath();
        var time = new ManualTimeProvider();
        var host = await StartHost(Env(peer), time);

        Assert.Equal("STATUS=starting; healthy: 0 components", await peer.Receive().WithTimeout());
        time.Advance(TimeSpan.FromSeconds(5));
        var beforeGate = await peer.DrainUntilMarker().WithTimeout();
        Assert.Equal(["STATUS=starting; healthy: 0 components"], beforeGate);

        host.Services.GetRequiredService<ReadinessGate>().Open("test");
        var untilReady = await peer.ReceiveUntil(d => d == "READY=1").WithTimeout();
        Assert.All(untilReady[..^1], d => Assert.StartsWith("STATUS=", d, StringComparison.Ordinal));
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3000 && e.Message.Contains("ms after process start", StringComparison.Ordinal));
        Assert.NotNull(ProcessStartTiming.ReadyAfter);

        // Once ready, the status line no longer says "starting".
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(["STATUS=healthy: 0 components"], await peer.DrainUntilMarker().WithTimeout());

        await host.StopAsync().WithTimeout();
        var untilStopping = await peer.ReceiveUntil(d => d == "STOPPING=1").WithTimeout();
        Assert.Contains("STATUS=stopping", untilStopping);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Abstract_socket_gets_ready_status_and_stopping()
    {
        using var peer = NotifySocketPeer.Abstract();
        Assert.StartsWith("@", peer.NotifySocket, StringComparison.Ordinal);
        var gate = new ReadinessGate();
        gate.Open();
        var host = await StartHost(Env(peer), new ManualTimeProvider(), s => s.AddSingleton(gate));

        var untilReady = await peer.ReceiveUntil(d => d == "READY=1").WithTimeout();
        Assert.StartsWith("STATUS=", untilReady[0], StringComparison.Ordinal);
        await host.StopAsync().WithTimeout();
        Assert.Equal(["STATUS=stopping", "STOPPING=1"], await peer.DrainUntilMarker().WithTimeout());
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Watchdog_pings_at_half_of_WATCHDOG_USEC_while_loops_are_alive_and_stops_when_one_is_overdue()
    {
        using var peer = NotifySocketPeer.AtPath();
        var time = new ManualTimeProvider();
        var host = await StartHost(Env(peer, watchdogUsec: "2000000", watchdogPid: Environment.ProcessId.ToString()), time);
        var loop = host.Services.GetRequiredService<LoopHeartbeatRegistry>().Register("drone-receive", TimeSpan.FromSeconds(3));
        host.Services.GetRequiredService<LoopHeartbeatRegistry>().Register("buffer-writer", TimeSpan.FromHours(1));
        await peer.Receive().WithTimeout(); // the first STATUS: the watchdog timer exists from here on
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3005);

        static int Pings(List<string> datagrams) => datagrams.Count(d => d == "WATCHDOG=1");

        time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Equal(0, Pings(await peer.DrainUntilMarker().WithTimeout()));
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, Pings(await peer.DrainUntilMarker().WithTimeout()));

        // Beat at t=1 s; silence allowed 3 s: pings at 2, 3 and 4 s, none at 5 s.
        loop.Beat();
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(3, Pings(await peer.DrainUntilMarker().WithTimeout()));
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(0, Pings(await peer.DrainUntilMarker().WithTimeout()));
        var withheld = Assert.Single(_logs.Entries, e => e.Id.Id == 3003);
        Assert.Contains("drone-receive", withheld.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("buffer-writer", withheld.Message, StringComparison.Ordinal);

        loop.Beat();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, Pings(await peer.DrainUntilMarker().WithTimeout()));
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3004);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("drone-receive", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Watchdog_on_the_real_clock_pings_about_every_half_interval_then_stops_for_a_hung_loop()
    {
        using var peer = NotifySocketPeer.Abstract();
        var clock = Stopwatch.StartNew();
        var host = await StartHost(Env(peer, watchdogUsec: "600000"), TimeProvider.System);
        var registry = host.Services.GetRequiredService<LoopHeartbeatRegistry>();
        registry.Register("alive", TimeSpan.FromHours(1));

        var pingTimes = new List<TimeSpan>();
        while (pingTimes.Count < 4)
        {
            if (await peer.Receive().WithTimeout() == "WATCHDOG=1")
            {
                pingTimes.Add(clock.Elapsed);
            }
        }

        // Timers never fire early: the first ping comes no sooner than half of WATCHDOG_USEC (300 ms).
        Assert.True(pingTimes[0] >= TimeSpan.FromMilliseconds(290), $"first ping after {pingTimes[0].TotalMilliseconds} ms");
        // Receipt can lag a send (a busy test thread), never precede it: four pings need at least 4 × 300 ms.
        Assert.True(pingTimes[3] >= TimeSpan.FromMilliseconds(1190), $"fourth ping after {pingTimes[3].TotalMilliseconds} ms");
        var mean = (pingTimes[^1] - pingTimes[0]) / 3;
        Assert.True(mean < TimeSpan.FromSeconds(3), $"pings {mean.TotalMilliseconds} ms apart on average");

        var hung = registry.Register("hung", TimeSpan.FromMilliseconds(100));
        await TaskTimeouts.Eventually(() => !hung.IsAlive, "the hung loop becomes overdue");
        await TaskTimeouts.Eventually(() => _logs.Entries.Any(e => e.Id.Id == 3003), "the watchdog notices the hung loop");
        await peer.DrainUntilMarker().WithTimeout();
        await Task.Delay(TimeSpan.FromMilliseconds(1200));
        Assert.DoesNotContain("WATCHDOG=1", await peer.DrainUntilMarker().WithTimeout());
        _logs.AssertNoUnexpectedErrors(m => m.Contains("hung", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("abc", null)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("1000000", "1")]
    [InlineData("1000000", "not-a-pid")]
    public async Task Bad_or_foreign_watchdog_settings_disable_the_watchdog_with_a_warning(string usec, string? pid)
    {
        using var peer = NotifySocketPeer.AtPath();
        var environment = Env(peer, usec, pid);
        Assert.Null(environment.WatchdogPingInterval);
        var time = new ManualTimeProvider();
        await StartHost(environment, time);
        await peer.Receive().WithTimeout();
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("WATCHDOG=1", await peer.DrainUntilMarker().WithTimeout());
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3007 && e.Message.Contains(usec, StringComparison.Ordinal));
    }

    [Fact]
    public void Watchdog_interval_is_half_of_WATCHDOG_USEC()
    {
        var environment = new SystemdEnvironment("@x", "30000000", Environment.ProcessId.ToString(), true);
        Assert.Equal(TimeSpan.FromSeconds(15), environment.WatchdogPingInterval);
    }

    private sealed class FixedStatus(Func<string> line) : IStatusLineProvider
    {
        public string GetStatusLine() => line();
    }

    [Fact]
    public async Task Status_line_is_kept_to_one_line_and_a_failing_provider_does_not_stop_the_notifier()
    {
        using var peer = NotifySocketPeer.Abstract();
        var fail = false;
        var time = new ManualTimeProvider();
        await StartHost(Env(peer), time, s => s.AddSingleton<IStatusLineProvider>(
            new FixedStatus(() => fail ? throw new InvalidOperationException("nope") : "drone: ok\nupstream:\r\tqueued " + new string('x', 500))));

        var first = await peer.Receive().WithTimeout();
        Assert.StartsWith("STATUS=starting; drone: ok upstream:  queued xxx", first, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', first);
        Assert.True(first.Length <= "STATUS=".Length + 200, $"status line is {first.Length} chars");

        fail = true;
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(["STATUS=starting; status unavailable"], await peer.DrainUntilMarker().WithTimeout());
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3008 && e.Error is InvalidOperationException);
    }

    [Fact]
    public async Task Status_line_names_components_that_are_not_healthy()
    {
        using var peer = NotifySocketPeer.AtPath();
        await StartHost(Env(peer), new ManualTimeProvider(), s => s.AddSingleton<IHealthReporter>(new TwoComponents()));
        Assert.Equal("STATUS=starting; degraded: 2 components; upstream: offline 12 s", await peer.Receive().WithTimeout());
    }

    private sealed class TwoComponents : IHealthReporter
    {
        public IEnumerable<ComponentHealth> Report() =>
        [
            new("drone", HealthState.Healthy, "ok"),
            new("upstream", HealthState.Degraded, "offline 12 s"),
        ];
    }

    [Fact]
    public async Task Without_NOTIFY_SOCKET_nothing_is_sent_and_the_host_runs_normally()
    {
        var environment = new SystemdEnvironment(null, "2000000", null, false);
        var time = new ManualTimeProvider();
        var host = await StartHost(environment, time);
        var notifier = host.Services.GetRequiredService<ISystemdNotifier>();
        Assert.False(notifier.IsEnabled);
        Assert.False(notifier.Notify("READY=1"));
        host.Services.GetRequiredService<ReadinessGate>().Open();
        await TaskTimeouts.Eventually(() => _logs.Entries.Any(e => e.Id.Id == 3013), "readiness is logged without systemd too");
        time.Advance(TimeSpan.FromSeconds(10));
        await host.StopAsync().WithTimeout();
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3001);
        Assert.DoesNotContain(_logs.Entries, e => e.Id.Id is 3000 or 3005);
    }

    [Fact]
    public void Notify_to_a_socket_nobody_listens_on_returns_false_and_logs()
    {
        using var factory = _logs.CreateFactory();
        using var notifier = new SystemdNotifier(Path.Combine(Path.GetTempPath(), $"eg-missing-{Guid.NewGuid():N}.sock"), factory.CreateLogger<SystemdNotifier>());
        Assert.True(notifier.IsEnabled);
        Assert.False(notifier.Notify("READY=1"));
        Assert.Contains(_logs.Entries, e => e.Id.Id == 3002 && e.Message.Contains("READY=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Notifier_used_directly_sends_exact_datagrams()
    {
        using var peer = NotifySocketPeer.Abstract();
        using var notifier = new SystemdNotifier(peer.NotifySocket);
        Assert.True(notifier.Notify("STATUS=ünïcode ok"));
        Assert.True(notifier.Notify("WATCHDOG=1"));
        Assert.Equal("STATUS=ünïcode ok", await peer.Receive().WithTimeout());
        Assert.Equal("WATCHDOG=1", await peer.Receive().WithTimeout());
    }

    [Fact]
    public async Task A_wrapped_start_uses_the_systemd_lifetime_because_NOTIFY_SOCKET_decides_not_the_parent()
    {
        // This test process's parent is the test runner, not systemd: as for an ExecStart that runs a wrapper.
        Assert.False(Microsoft.Extensions.Hosting.Systemd.SystemdHelpers.IsSystemdService());
        using var peer = NotifySocketPeer.AtPath();
        var host = await StartHost(new SystemdEnvironment(peer.NotifySocket, null, null, IsSystemdService: false), new ManualTimeProvider());

        Assert.IsType<Microsoft.Extensions.Hosting.Systemd.SystemdLifetime>(host.Services.GetRequiredService<IHostLifetime>());
        // The lifetime's READY=1 at ApplicationStarted is held back until the gateway is ready.
        Assert.Equal("STATUS=starting; healthy: 0 components", await peer.Receive().WithTimeout());
        Assert.Empty(await peer.DrainUntilMarker().WithTimeout());
        host.Services.GetRequiredService<ReadinessGate>().Open("test");
        var untilReady = await peer.ReceiveUntil(d => d == "READY=1").WithTimeout();
        Assert.Single(untilReady, d => d == "READY=1");
        await host.StopAsync().WithTimeout();
        Assert.Equal(["STATUS=stopping", "STOPPING=1"], await peer.DrainUntilMarker().WithTimeout());
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Without_systemd_the_host_keeps_the_console_lifetime()
    {
        var host = await StartHost(new SystemdEnvironment(null, null, null, IsSystemdService: false), new ManualTimeProvider());

        Assert.IsType<Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>(host.Services.GetRequiredService<IHostLifetime>());
    }

    public void Dispose()
    {
        foreach (var host in _hosts)
        {
            host.Dispose();
        }
    }
}
