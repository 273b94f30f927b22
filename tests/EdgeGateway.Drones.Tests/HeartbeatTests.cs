using System.Net;
using EdgeGateway.Health;
using EdgeGateway.Simulator;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

/// <summary>The drone loops keep the systemd watchdog's heartbeats: beating while idle, silent when stuck.</summary>
public sealed class HeartbeatTests(ITestOutputHelper output)
{
    private static readonly string[] Loops = ["drones.supervisor", "drones.receive.command", "drones.receive.state", "drones.command.tello-1"];

    [Fact]
    public async Task Every_drone_loop_registers_a_heartbeat_that_beats_while_idle_and_is_removed_on_stop()
    {
        // The registry runs on a manual clock: jumping it makes every beat stale at once; only a fresh beat revives it.
        var clock = new ManualTimeProvider();
        var registry = new LoopHeartbeatRegistry(clock);
        // No drone at this address: no reply and no state datagram ever arrives, so the receive loops are idle.
        var h = await FleetHarness.StartAsync(output, FleetHarness.Options("127.0.0.9"), writer: null, heartbeats: registry);
        await using (h)
        {
            Assert.Equal(Loops.Order(), registry.Snapshot().Select(b => b.Name).Order());
            clock.Advance(TimeSpan.FromSeconds(11));
            Assert.Equal(Loops.Order(), registry.Overdue().Order());
            await TaskTimeouts.Eventually(() => registry.Overdue().Count == 0, () => "still overdue: " + string.Join(", ", registry.Overdue()));
            Assert.Equal(0, h.Fleet.Counters.StateDatagrams);
        }

        Assert.Empty(registry.Snapshot());
    }

    [Fact]
    public async Task The_command_worker_keeps_beating_while_it_waits_for_a_long_reply()
    {
        var clock = new ManualTimeProvider();
        var registry = new LoopHeartbeatRegistry(clock);
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.TakeoffTimeout = TimeSpan.FromMinutes(2);
        await using var h = await FleetHarness.StartAsync(output, options, writer: null, heartbeats: registry, fake);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.NextHeld("takeoff", release.Task, "ok");
        var takeoff = h.Drone().ExecuteAsync(TelloCommand.Takeoff);
        await TaskTimeouts.Eventually(() => fake.Count("takeoff") == 1, "takeoff sent");

        // Mid-wait (the reply is held), the worker's heartbeat goes stale on the jump and comes back by itself.
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Contains("drones.command.tello-1", registry.Overdue());
        await TaskTimeouts.Eventually(() => !registry.Overdue().Contains("drones.command.tello-1"), "the waiting worker beats");
        Assert.False(takeoff.IsCompleted);

        release.SetResult();
        Assert.Equal(DroneCommandOutcome.Ok, (await takeoff.WithTimeout()).Outcome);
    }

    [Fact]
    public async Task A_state_receive_loop_stuck_in_a_handler_stops_beating_and_beats_again_once_free()
    {
        var clock = new ManualTimeProvider();
        var registry = new LoopHeartbeatRegistry(clock);
        var statePort = FreePort.Udp();
        await using var sim = new TelloSimulator(new TelloSimulatorOptions
        {
            Address = IPAddress.Parse("127.0.0.2"), CommandPort = 0, StatePort = statePort, TimeScale = 10,
        });
        await sim.StartAsync().WithTimeout();
        var options = FleetHarness.Options(sim.CommandEndPoint.ToString());
        options.StatePort = statePort;
        await using var h = await FleetHarness.StartAsync(output, options, writer: null, heartbeats: registry);
        await h.WaitFreshAsync();

        using var release = new ManualResetEventSlim(false);
        using var entered = new ManualResetEventSlim(false);
        var block = 1;
        h.Drone().StateReceived += (_, _) =>
        {
            if (Volatile.Read(ref block) == 1)
            {
                entered.Set();
                release.Wait(TimeSpan.FromSeconds(60)); // a handler that hangs the receive loop
            }
        };
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)), "handler entered");
        try
        {
            clock.Advance(TimeSpan.FromSeconds(11));
            // The other loops beat again within their 1-s idle slice; the stuck one must not, even after several slices.
            await TaskTimeouts.Eventually(() => registry.Overdue().SequenceEqual(["drones.receive.state"]),
                () => "overdue: " + string.Join(", ", registry.Overdue()));
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            Assert.Contains("drones.receive.state", registry.Overdue());
        }
        finally
        {
            Volatile.Write(ref block, 0);
            release.Set();
        }

        await TaskTimeouts.Eventually(() => registry.Overdue().Count == 0, () => "still overdue: " + string.Join(", ", registry.Overdue()));
    }
}
