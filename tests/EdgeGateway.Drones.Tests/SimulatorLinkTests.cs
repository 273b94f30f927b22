using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeGateway.Records;
using EdgeGateway.Simulator;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

/// <summary>The link against the independent simulator over real UDP on loopback.</summary>
public sealed class SimulatorLinkTests(ITestOutputHelper output)
{
    private static TelloCommand Move(MoveDirection d, int cm) =>
        TelloCommand.TryMove(d, cm, out var c, out var e) ? c : throw new InvalidOperationException(e);

    private static TelloCommand Speed(int s) =>
        TelloCommand.TrySpeed(s, out var c, out var e) ? c : throw new InvalidOperationException(e);

    private sealed class Rig : IAsyncDisposable
    {
        public required FleetHarness Harness { get; init; }
        public required List<TelloSimulator> Sims { get; init; }
        public TelloSimulator Sim => Sims[0];
        public IDroneLink Drone => Harness.Drone();

        public async ValueTask DisposeAsync()
        {
            await Harness.DisposeAsync();
            foreach (var s in Sims)
            {
                await s.DisposeAsync();
            }
        }
    }

    private async Task<Rig> StartAsync(Action<DroneOptions>? configure = null, double timeScale = 10, TelloSdkFormat format = TelloSdkFormat.Sdk20,
        Action<TelloSimulatorOptions>? simulator = null, params string[] addresses)
    {
        if (addresses.Length == 0)
        {
            addresses = ["127.0.0.2"];
        }

        var statePort = FreePort.Udp();
        var sims = new List<TelloSimulator>();
        // The simulators' state noise (and any fault a test turns on) comes from this seed: reported, replayable.
        var seed = TestSeed.Pick(output, "simulator fault seed");
        for (var i = 0; i < addresses.Length; i++)
        {
            var simOptions = new TelloSimulatorOptions
            {
                Address = IPAddress.Parse(addresses[i]),
                CommandPort = 0,
                StatePort = statePort,
                TimeScale = timeScale,
                Format = format,
                SerialNumber = $"0TQDG7BEDB0E9{i}",
            };
            simOptions.Faults.Seed = unchecked(seed + i);
            simulator?.Invoke(simOptions);
            var sim = new TelloSimulator(simOptions);
            await sim.StartAsync().WithTimeout();
            sims.Add(sim);
        }

        var options = FleetHarness.Options([.. sims.Select(s => s.CommandEndPoint.ToString())]);
        options.StatePort = statePort;
        configure?.Invoke(options);
        var harness = await FleetHarness.StartAsync(output, options);
        var rig = new Rig { Harness = harness, Sims = sims };
        await harness.WaitFreshAsync();
        return rig;
    }

    private static async Task TakeoffAsync(Rig rig)
    {
        var r = await rig.Drone.ExecuteAsync(TelloCommand.Takeoff).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Ok, r.Outcome);
        Assert.True(rig.Sim.Snapshot.IsFlying);
    }

    [Fact]
    public async Task Sim_stale_reply_after_timeout_is_never_taken_as_a_later_commands_reply()
    {
        await using var rig = await StartAsync();
        rig.Sim.DelayNextReply(FleetHarness.CommandTimeout * 1.5);
        Assert.Equal(DroneCommandOutcome.Timeout, (await rig.Drone.ExecuteAsync(Speed(50)).WithTimeout()).Outcome);

        // Reads keep going while the late "ok" is in flight; none may come back as "ok" or a wrong value.
        var window = Deadline.In(FleetHarness.CommandTimeout * 1.5);
        var reads = 0;
        while (!window.Passed)
        {
            var r = await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();
            Assert.Equal(DroneCommandOutcome.Ok, r.Outcome);
            Assert.NotEqual("ok", r.Reply, StringComparer.OrdinalIgnoreCase);
            Assert.InRange(r.Values!["battery"], 90, 100);
            reads++;
        }

        await TaskTimeouts.Eventually(() => rig.Harness.Fleet.Counters.StaleReplies >= 1, "the late ok was dropped as stale");
        Assert.True(reads >= 1);
        Assert.Contains("sn?", rig.Sim.ReceivedCommands);
        Assert.Equal(DroneCommandOutcome.Ok, (await rig.Drone.ExecuteAsync(Speed(60)).WithTimeout()).Outcome);
    }

    [Fact]
    public async Task Sim_ok_reply_to_battery_triggers_resync_not_a_wrong_value()
    {
        await using var rig = await StartAsync();
        rig.Sim.SetBattery(73);
        rig.Sim.OverrideNextReply("ok");

        var r = await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, r.Outcome);
        Assert.Equal(73, r.Values!["battery"]);
        Assert.Equal(1, rig.Harness.Fleet.Counters.Resyncs);
        Assert.Equal(["battery?", "sn?", "battery?"], rig.Sim.ReceivedCommands.SkipWhile(c => c != "battery?"));
    }

    [Fact]
    public async Task Sim_motion_command_whose_reply_was_dropped_is_not_sent_again()
    {
        await using var rig = await StartAsync();
        await TakeoffAsync(rig);
        rig.Sim.DropNextReplies(1);

        var r = await rig.Drone.ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Timeout, r.Outcome);
        Assert.Equal(DroneCommandOutcome.Ok, (await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(1, rig.Sim.ReceivedCommands.Count(c => c == "forward 50"));
        Assert.InRange(rig.Sim.Snapshot.XCm, 45, 55); // it did move, once
    }

    [Fact]
    public async Task Sim_emergency_while_a_long_move_is_pending_goes_out_at_once()
    {
        await using var rig = await StartAsync(o => o.MoveTimeoutMargin = TimeSpan.FromSeconds(10), timeScale: 2);
        await TakeoffAsync(rig);
        var move = rig.Drone.ExecuteAsync(Move(MoveDirection.Forward, 500)); // about 3 s at scale 2
        await TaskTimeouts.Eventually(() => rig.Sim.Snapshot.IsMoving, "move under way");
        var e = await rig.Drone.ExecuteAsync(TelloCommand.Emergency).WithTimeout();
        await TaskTimeouts.Eventually(() => rig.Sim.ReceivedCommands.Contains("emergency"), "emergency reached the drone");

        Assert.Equal(DroneCommandOutcome.SentNoReply, e.Outcome);
        // Had the link held the emergency back until the move's reply, the drone would have covered all 500 cm.
        Assert.InRange(rig.Sim.Snapshot.XCm, 0, 490);
        Assert.Equal(DroneCommandOutcome.Aborted, (await move.WithTimeout(TimeSpan.FromSeconds(2))).Outcome);
        await TaskTimeouts.Eventually(() => !rig.Sim.Snapshot.IsFlying, "drone is down");
        Assert.Equal("emergency", rig.Sim.Snapshot.LastLandingReason);
        Assert.False(rig.Drone.Status.IsFlying);
    }

    [Fact]
    public async Task Sim_stop_during_a_move_resolves_it_as_forced_stop()
    {
        await using var rig = await StartAsync(timeScale: 2);
        await TakeoffAsync(rig);
        var move = rig.Drone.ExecuteAsync(Move(MoveDirection.Forward, 500));
        await TaskTimeouts.Eventually(() => rig.Sim.Snapshot.IsMoving, "move under way");

        var stop = await rig.Drone.ExecuteAsync(TelloCommand.Stop).WithTimeout();
        var moved = await move.WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, stop.Outcome);
        Assert.Equal(DroneCommandOutcome.DroneError, moved.Outcome);
        Assert.Equal("forced stop", moved.Reply);
        Assert.True(rig.Sim.Snapshot.IsFlying);
    }

    [Fact]
    public async Task Sim_rc_creates_no_pending_reply()
    {
        await using var rig = await StartAsync();
        await TakeoffAsync(rig);
        Assert.True(TelloCommand.TryRc(0, 0, 0, 0, out var rc, out _));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(DroneCommandOutcome.SentNoReply, (await rig.Drone.ExecuteAsync(rc).WithTimeout()).Outcome);
        }

        var r = await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Height)).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Ok, r.Outcome);
        Assert.InRange(r.Values!["height_cm"], 50, 110);
        Assert.Equal(5, rig.Sim.ReceivedCommands.Count(c => c == rc.Text));
        Assert.Equal(0, rig.Harness.Fleet.Counters.Resyncs);
        Assert.Equal(0, rig.Harness.Fleet.Counters.StaleReplies);
    }

    [Fact]
    public async Task Sim_keepalive_keeps_an_airborne_drone_from_auto_landing()
    {
        // Scale 5: the 15-s auto-land comes after 3 s of silence; a 400-ms keepalive leaves 2.6 s for a loaded machine.
        await using var rig = await StartAsync(o => o.KeepaliveInterval = TimeSpan.FromMilliseconds(400), timeScale: 5);
        await TakeoffAsync(rig);
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.True(rig.Sim.Snapshot.IsFlying, "still flying after 25 simulated seconds idle: " + rig.Sim.Snapshot.LastLandingReason);
        Assert.Null(rig.Sim.LastOwnLandingIdle);
        Assert.Contains("keepalive", rig.Sim.ReceivedCommands);
        Assert.True(rig.Drone.Status.IsFlying);
    }

    [Fact]
    public async Task Sim_without_keepalive_an_airborne_drone_auto_lands_after_15_seconds()
    {
        await using var rig = await StartAsync(o => o.KeepaliveInterval = TimeSpan.Zero);
        await TakeoffAsync(rig);
        var airborneAt = Stopwatch.StartNew();
        await TaskTimeouts.Eventually(() => !rig.Sim.Snapshot.IsFlying, "auto-land");
        // Scale 10: 1.5 s of real idle time, timed by the simulator's own stamps (a loaded machine can only make it later).
        Assert.True(rig.Sim.LastOwnLandingIdle >= TimeSpan.FromMilliseconds(1499), $"auto-land after {rig.Sim.LastOwnLandingIdle} idle");
        Assert.True(airborneAt.Elapsed < TimeSpan.FromSeconds(15), "scaled: well before 15 real seconds");
        Assert.Equal("auto-land", rig.Sim.Snapshot.LastLandingReason);
        await TaskTimeouts.Eventually(() => !rig.Drone.Status.IsFlying, "the link sees the landing in the state");
        Assert.DoesNotContain("keepalive", rig.Sim.ReceivedCommands);
    }

    [Fact]
    public async Task Sim_reboot_makes_the_link_lost_then_it_comes_back_by_itself()
    {
        await using var rig = await StartAsync();
        var changes = new List<DroneLinkHealth>();
        rig.Drone.HealthChanged += (_, _, to) => { lock (changes) { changes.Add(to); } };

        // A completed read proves the start-up `command` (and any retry of it) is done before the reboot.
        Assert.Equal(DroneCommandOutcome.Ok, (await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        rig.Sim.Reboot(TimeSpan.FromSeconds(3)); // longer than LostAfter (2.5 s)
        await TaskTimeouts.Eventually(() => rig.Drone.Status.Health == DroneLinkHealth.Lost, "link lost");
        await TaskTimeouts.Eventually(() => rig.Drone.Status.Health == DroneLinkHealth.Fresh, "link back by itself");

        Assert.True(rig.Sim.Snapshot.InSdkMode);
        lock (changes)
        {
            // Under CPU load an extra degraded/fresh flap may appear; the order that matters is degraded, lost, fresh.
            var lost = changes.IndexOf(DroneLinkHealth.Lost);
            Assert.True(lost > 0 && changes[lost - 1] == DroneLinkHealth.Degraded, string.Join(",", changes));
            Assert.Contains(DroneLinkHealth.Fresh, changes.Skip(lost));
        }

        var r = await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.SerialNumber)).WithTimeout();
        Assert.Equal(rig.Sim.Options.SerialNumber, r.Reply);
        var events = rig.Harness.DrainRecords().Where(x => x.Kind == RecordKind.Event)
            .Select(x => JsonDocument.Parse(x.Payload).RootElement.GetProperty("event").GetString());
        Assert.Equal(["link_up", "link_down", "link_up"], events);
    }

    [Fact]
    public async Task Sim_unknown_source_truncated_binary_and_64_KiB_datagrams_are_ignored_and_counted()
    {
        await using var rig = await StartAsync();
        var fleet = rig.Harness.Fleet;
        using (var stranger = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.9"), 0)))
        {
            var state = Encoding.ASCII.GetBytes("mid:-1;x:0;y:0;z:0;mpry:0,0,0;pitch:0;roll:0;yaw:0;h:0;bat:3;\r\n");
            await stranger.SendAsync(state, state.Length, fleet.StateEndPoint!);
        }

        rig.Sim.SendRawState(Encoding.ASCII.GetBytes("mid:-1;x:0;y:0;z:0;mpry:0,0"));
        rig.Sim.SendRawState([0xCC, 0x58, 0x00, 0x7C, 0x68, 0x54, 0x00, 0xE4]);
        rig.Sim.SendRawState(new byte[64 * 1024 - 29]);
        rig.Sim.SendGarbage();

        await TaskTimeouts.Eventually(() => fleet.Counters.UnknownSourceDatagrams >= 1
            && fleet.Counters.BadStateDatagrams >= 2 && fleet.Counters.BinaryDatagrams >= 2, "all counted");
        Assert.NotEqual(3, rig.Drone.Status.Battery);
        var before = fleet.Counters.StateDatagrams;
        await TaskTimeouts.Eventually(() => fleet.Counters.StateDatagrams > before, "state still flows");
        Assert.Equal(DroneCommandOutcome.Ok, (await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        rig.Harness.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Sim_two_drones_at_once_keep_commands_and_state_apart()
    {
        await using var rig = await StartAsync(addresses: ["127.0.0.2", "127.0.0.3"]);
        rig.Sims[0].SetBattery(40);
        rig.Sims[1].SetBattery(90);
        var a = rig.Harness.Fleet.Find("tello-1")!;
        var b = rig.Harness.Fleet.Find("tello-2")!;

        var takeoff = a.ExecuteAsync(TelloCommand.Takeoff);
        var snA = a.ExecuteAsync(TelloCommand.ReadOf(TelloRead.SerialNumber));
        var snB = b.ExecuteAsync(TelloCommand.ReadOf(TelloRead.SerialNumber));
        Assert.Equal(rig.Sims[1].Options.SerialNumber, (await snB.WithTimeout()).Reply);
        Assert.Equal(DroneCommandOutcome.Ok, (await takeoff.WithTimeout()).Outcome);
        Assert.Equal(rig.Sims[0].Options.SerialNumber, (await snA.WithTimeout()).Reply);

        Assert.True(rig.Sims[0].Snapshot.IsFlying);
        Assert.False(rig.Sims[1].Snapshot.IsFlying);
        Assert.DoesNotContain("takeoff", rig.Sims[1].ReceivedCommands);
        // The flying one drains (time-scaled), the landed one holds: each link sees its own drone's battery.
        await TaskTimeouts.Eventually(() => a.Status.Battery is >= 20 and <= 40 && b.Status.Battery == 90, "each state on its own link");
        await TaskTimeouts.Eventually(() => a.Status.State?.HeightCm > 0 && b.Status.State?.HeightCm == 0, "heights apart");
    }

    [Theory]
    [InlineData(TelloSdkFormat.Sdk13)]
    [InlineData(TelloSdkFormat.Sdk20)]
    [InlineData(TelloSdkFormat.Sdk30)]
    public async Task Sim_state_in_every_sdk_format_is_parsed(TelloSdkFormat format)
    {
        await using var rig = await StartAsync(format: format);
        rig.Sim.SetBattery(66);
        await TaskTimeouts.Eventually(() => rig.Drone.Status.Battery == 66, "battery from state");
        var state = rig.Drone.Status.State!;
        Assert.NotNull(state.AccelZ);
        Assert.NotNull(state.TofCm);
        Assert.Equal(format == TelloSdkFormat.Sdk13, state.MissionPadId is null);
        Assert.Equal(0, rig.Harness.Fleet.Counters.BadStateDatagrams);
    }

    [Fact]
    public async Task Sim_read_replies_in_raw_formats_become_values()
    {
        await using var rig = await StartAsync();
        await TakeoffAsync(rig);
        var d = rig.Drone;
        Assert.InRange((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Height)).WithTimeout()).Values!["height_cm"], 50, 110);
        Assert.True((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Tof)).WithTimeout()).Values!.ContainsKey("tof_cm"));
        Assert.True((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Temperature)).WithTimeout()).Values!.ContainsKey("temperature_high_c"));
        Assert.True((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Attitude)).WithTimeout()).Values!.ContainsKey("yaw_deg"));
        Assert.True((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Acceleration)).WithTimeout()).Values!.ContainsKey("accel_z_mg"));
        Assert.True((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Speed)).WithTimeout()).Values!.ContainsKey("speed_cm_s"));
        Assert.True((await d.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Time)).WithTimeout()).Values!.ContainsKey("flight_time_s"));
        Assert.Equal(0, rig.Harness.Fleet.Counters.Resyncs);
    }

    [Fact]
    public async Task Sim_shutdown_while_airborne_lands_the_drone()
    {
        var rig = await StartAsync();
        await using var sim = rig.Sim;
        await TakeoffAsync(rig);
        await rig.Harness.DisposeAsync();
        await TaskTimeouts.Eventually(() => !sim.Snapshot.IsFlying, "landed after gateway shutdown");
        Assert.Equal("land", sim.Snapshot.LastLandingReason);
    }
    private static List<string?> EventNames(Rig rig) => rig.Harness.DrainRecords().Where(x => x.Kind == RecordKind.Event)
        .Select(x => JsonDocument.Parse(x.Payload).RootElement.GetProperty("event").GetString()).ToList();

    [Fact]
    public async Task Sim_state_lost_while_airborne_makes_the_link_send_land()
    {
        // The drone's own 15-s auto-land is off, so only the link's land can bring it down.
        await using var rig = await StartAsync(timeScale: 4, simulator: s => s.AutoLandTimeout = Timeout.InfiniteTimeSpan);
        await TakeoffAsync(rig);
        rig.Sim.PauseState(); // commands still reach the drone: only the state stream is gone

        await TaskTimeouts.Eventually(() => rig.Drone.Status.Health == DroneLinkHealth.Lost, "link lost");
        await TaskTimeouts.Eventually(() => !rig.Sim.Snapshot.IsFlying, "the drone lands");
        Assert.Equal("land", rig.Sim.Snapshot.LastLandingReason);
        Assert.Single(rig.Sim.ReceivedCommands, c => c == "land");

        rig.Sim.ResumeState();
        await TaskTimeouts.Eventually(() => rig.Drone.Status.Health == DroneLinkHealth.Fresh, "link back");
        // Back on the ground: no second land. A read behind anything queued proves nothing more was sent.
        Assert.Equal(DroneCommandOutcome.Ok, (await rig.Drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Single(rig.Sim.ReceivedCommands, c => c == "land");
        var events = EventNames(rig);
        Assert.Equal(["link_up", "link_down", "land_on_link_loss", "link_up"], events);
    }

    [Fact]
    public async Task Sim_not_joystick_fault_refuses_a_move_twice_and_it_is_returned_as_a_drone_error()
    {
        // Auto-land off: under CPU load the hover wait could outlast the scaled 15-s idle timer, and a move
        // sent during an auto-land is refused with a plain "error".
        await using var rig = await StartAsync(simulator: s =>
        {
            s.Faults = new TelloFaultOptions { Seed = 7, NotJoystick = 1.0 };
            s.AutoLandTimeout = Timeout.InfiniteTimeSpan;
        });
        await TakeoffAsync(rig);

        var r = await rig.Drone.ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.DroneError, r.Outcome);
        Assert.Equal("error Not joystick", r.Reply);
        Assert.Equal(2, rig.Sim.ReceivedCommands.Count(c => c == "forward 50"));
        Assert.InRange(rig.Sim.Snapshot.XCm, -1, 1); // refused both times: it never moved
        Assert.Equal(1, rig.Harness.Fleet.Counters.NotJoystickRetries);
    }

    [Fact]
    public async Task Sim_move_refused_with_not_joystick_during_another_move_is_retried_once_from_the_hover()
    {
        await using var rig = await StartAsync(o =>
            {
                o.NotJoystickHoverTimeout = TimeSpan.FromSeconds(10);
                o.MoveTimeoutMargin = TimeSpan.FromSeconds(10); // the harness's 1 s is too tight for a real move under load
            }, timeScale: 2,
            simulator: s =>
            {
                s.WhileBusy = BusyBehaviour.NotJoystick;
                s.AutoLandTimeout = Timeout.InfiniteTimeSpan;
            });
        await TakeoffAsync(rig);

        // Another app on this machine starts a long move (about 3 s at scale 2); the drone is busy with it.
        using (var other = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            var bytes = Encoding.ASCII.GetBytes("forward 500");
            await other.SendAsync(bytes, bytes.Length, rig.Sim.CommandEndPoint);
            await TaskTimeouts.Eventually(() => rig.Sim.Snapshot.IsMoving, "the other move is under way");

            var r = await rig.Drone.ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout(TimeSpan.FromSeconds(30));

            Assert.Equal(DroneCommandOutcome.Ok, r.Outcome);
            Assert.Equal("ok", r.Reply);
        }

        Assert.Equal(2, rig.Sim.ReceivedCommands.Count(c => c == "forward 50"));
        Assert.Equal(1, rig.Harness.Fleet.Counters.NotJoystickRetries);
        Assert.InRange(rig.Sim.Snapshot.XCm, 540, 560); // both moves ran, ours once
    }
}
