using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeGateway.Records;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

/// <summary>Protocol behaviour against a scripted drone on real UDP (exact, deterministic fault timing).</summary>
public sealed class LinkProtocolTests(ITestOutputHelper output)
{
    private static TelloCommand Move(MoveDirection d, int cm) =>
        TelloCommand.TryMove(d, cm, out var c, out var e) ? c : throw new InvalidOperationException(e);

    private static TelloCommand Speed(int s) =>
        TelloCommand.TrySpeed(s, out var c, out var e) ? c : throw new InvalidOperationException(e);

    [Fact]
    public async Task Stale_reply_after_timeout_is_not_matched_to_next_command()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();

        // The drone answers "ok" only after the link gave up on `speed 50`.
        fake.Next("speed 50", FleetHarness.CommandTimeout * 1.6, "ok");
        var first = await drone.ExecuteAsync(Speed(50)).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Timeout, first.Outcome);

        // The late "ok" lands during the resync of the next command; the next command's own answer is "error".
        fake.Next("sn?", FleetHarness.CommandTimeout * 0.8, fake.Serial);
        fake.Next("speed 60", "error");
        var second = await drone.ExecuteAsync(Speed(60)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.DroneError, second.Outcome);
        Assert.Equal("error", second.Reply);
        var sent = fake.Received.ToList();
        Assert.True(sent.IndexOf("sn?") > sent.IndexOf("speed 50") && sent.IndexOf("sn?") < sent.IndexOf("speed 60"),
            "the link resyncs with sn? before the next command: " + string.Join(", ", sent));
        Assert.True(h.Fleet.Counters.StaleReplies >= 1, "the late ok was counted as stale");
        h.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Late_reply_arriving_with_no_command_waiting_is_dropped()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();

        fake.Next("speed 50", FleetHarness.CommandTimeout * 1.3, "ok");
        Assert.Equal(DroneCommandOutcome.Timeout, (await drone.ExecuteAsync(Speed(50)).WithTimeout()).Outcome);
        await TaskTimeouts.Eventually(() => h.Fleet.Counters.StaleReplies >= 1, "late ok arrives and is dropped");

        fake.Next("speed 60", "out of range");
        var next = await drone.ExecuteAsync(Speed(60)).WithTimeout();
        Assert.Equal(DroneCommandOutcome.DroneError, next.Outcome);
        Assert.Equal("out of range", next.Reply);
    }

    [Fact]
    public async Task Ok_reply_to_a_read_triggers_resync_and_never_becomes_a_value()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);

        fake.Next("battery?", "ok");
        var result = await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, result.Outcome);
        Assert.Equal(87, result.Values!["battery"]);
        Assert.Equal(1, h.Fleet.Counters.Resyncs);
        Assert.Equal(["battery?", "sn?", "battery?"], fake.Received.SkipWhile(c => c != "battery?"));
    }

    [Fact]
    public async Task Mismatched_reply_to_a_read_with_no_retries_left_gives_no_value()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.ReadRetries = 0;
        await using var h = await FleetHarness.StartAsync(output, options, fake);

        fake.Next("battery?", "ok");
        var result = await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Timeout, result.Outcome);
        Assert.Null(result.Values);
        Assert.Equal("ok", result.Reply);
    }

    [Fact]
    public async Task Value_reply_to_takeoff_is_a_mismatch_and_takeoff_is_not_resent()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);

        fake.Next("takeoff", "87");
        var result = await h.Drone().ExecuteAsync(TelloCommand.Takeoff).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Timeout, result.Outcome);
        Assert.Equal(1, fake.Count("takeoff"));
        var battery = await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();
        Assert.Equal(87, battery.Values!["battery"]);
        Assert.Contains("sn?", fake.Received);
    }

    [Fact]
    public async Task Motion_command_whose_reply_was_dropped_is_not_sent_again()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);

        fake.Next("forward 50"); // executes, reply lost
        var result = await h.Drone().ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Timeout, result.Outcome);

        // Later traffic proves the link moved on without repeating the move.
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(1, fake.Count("forward 50"));
    }

    [Fact]
    public async Task Read_whose_reply_was_dropped_is_retried_once()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);

        fake.Next("height?");
        var result = await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Height)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, result.Outcome);
        Assert.Equal(150, result.Values!["height_cm"]);
        Assert.Equal(2, fake.Count("height?"));
    }

    [Fact]
    public async Task Emergency_while_a_long_move_is_pending_goes_out_at_once_and_aborts_the_move()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();
        Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.Takeoff).WithTimeout()).Outcome);
        Assert.True(drone.Status.IsFlying);

        fake.Next("forward 500"); // a 5-s move: no reply yet
        var move = drone.ExecuteAsync(Move(MoveDirection.Forward, 500));
        await TaskTimeouts.Eventually(() => fake.Count("forward 500") == 1, "move sent");
        var started = Stopwatch.StartNew();
        var emergency = await drone.ExecuteAsync(TelloCommand.Emergency).WithTimeout();
        await TaskTimeouts.Eventually(() => fake.Count("emergency") == 1, "emergency reaches the drone");

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), "emergency did not wait for the move");
        Assert.Equal(DroneCommandOutcome.SentNoReply, emergency.Outcome);
        Assert.Equal(DroneCommandOutcome.Aborted, (await move.WithTimeout(TimeSpan.FromSeconds(2))).Outcome);
        Assert.False(drone.Status.IsFlying);
    }

    [Fact]
    public async Task Stop_during_a_move_resolves_the_move_as_forced_stop_and_stop_as_ok()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();

        fake.Next("forward 500");
        fake.Next("stop", "forced stop", "ok");
        var move = drone.ExecuteAsync(Move(MoveDirection.Forward, 500));
        await TaskTimeouts.Eventually(() => fake.Count("forward 500") == 1, "move sent");
        var stop = await drone.ExecuteAsync(TelloCommand.Stop).WithTimeout();
        var moved = await move.WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, stop.Outcome);
        Assert.Equal(DroneCommandOutcome.DroneError, moved.Outcome);
        Assert.Equal("forced stop", moved.Reply);
    }

    [Fact]
    public async Task Rc_creates_no_pending_reply()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();
        Assert.True(TelloCommand.TryRc(10, 0, 0, -10, out var rc, out _));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(rc).WithTimeout()).Outcome);
        }

        // A move in flight keeps its own reply even with rc sent meanwhile.
        fake.Next("up 20", TimeSpan.FromMilliseconds(400), "ok");
        var move = drone.ExecuteAsync(Move(MoveDirection.Up, 20));
        await TaskTimeouts.Eventually(() => fake.Count("up 20") == 1, "move sent");
        await drone.ExecuteAsync(rc).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Ok, (await move.WithTimeout()).Outcome);

        var battery = await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();
        Assert.Equal(87, battery.Values!["battery"]);
        Assert.Equal(4, fake.Count(rc.Text));
        Assert.Equal(0, h.Fleet.Counters.Resyncs);
    }

    [Fact]
    public async Task One_command_in_flight_at_a_time_with_a_gap_before_the_next()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.MinCommandGap = TimeSpan.FromMilliseconds(150);
        await using var h = await FleetHarness.StartAsync(output, options, fake);
        var drone = h.Drone();
        fake.Next("up 20", TimeSpan.FromMilliseconds(300), "ok");

        var tasks = new[]
        {
            drone.ExecuteAsync(Move(MoveDirection.Up, 20)),
            drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)),
            drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Time)),
        };
        var results = await Task.WhenAll(tasks).WithTimeout();

        Assert.All(results, r => Assert.Equal(DroneCommandOutcome.Ok, r.Outcome));
        Assert.Equal(87, results[1].Values!["battery"]);
        Assert.Equal(11, results[2].Values!["flight_time_s"]);
        // The read waited for the move's reply: the drone saw them strictly in order.
        Assert.Equal(["up 20", "battery?", "time?"], fake.Received.Where(c => c is "up 20" or "battery?" or "time?"));
    }

    [Fact]
    public async Task Read_replies_in_raw_formats_arrive_as_named_values()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();

        Assert.Equal(150, (await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Height)).WithTimeout()).Values!["height_cm"]);
        Assert.Equal(87.5, (await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Tof)).WithTimeout()).Values!["tof_cm"]);
        var temp = await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Temperature)).WithTimeout();
        Assert.Equal(85, temp.Values!["temperature_low_c"]);
        Assert.Equal(88, temp.Values!["temperature_high_c"]);
        var sn = await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.SerialNumber)).WithTimeout();
        Assert.Equal(fake.Serial, sn.Reply);
        fake.Next("battery?", "63\r\n\0");
        Assert.Equal(63, (await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Values!["battery"]);
    }

    [Fact]
    public async Task Uppercase_OK_and_OK_with_text_are_success()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        fake.Next("speed 50", "OK\r\n");
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(Speed(50)).WithTimeout()).Outcome);
        fake.Next("speed 60", "OK,drone will reboot in 3s");
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(Speed(60)).WithTimeout()).Outcome);
    }

    [Fact]
    public async Task Commands_before_the_link_is_up_return_link_down_without_sending()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText));
        // No state target: the drone never streams state, so the link stays connecting.
        var result = await h.Drone().ExecuteAsync(TelloCommand.Takeoff).WithTimeout();
        Assert.Equal(DroneCommandOutcome.LinkDown, result.Outcome);
        Assert.Equal(DroneLinkHealth.Connecting, h.Drone().Status.Health);
        Assert.DoesNotContain("takeoff", fake.Received);
        await TaskTimeouts.Eventually(() => fake.Count("command") >= 2, "command is re-sent while connecting");
    }

    [Fact]
    public async Task Full_queue_answers_busy()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.QueueCapacity = 1;
        options.MoveTimeoutMargin = TimeSpan.FromSeconds(30); // the held move must not time out while the test works
        await using var h = await FleetHarness.StartAsync(output, options, fake);
        // The reply to the first command is held until the test releases it: no race with a delay on a loaded machine.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.NextHeld("up 20", release.Task, "ok");
        var first = h.Drone().ExecuteAsync(Move(MoveDirection.Up, 20));
        await TaskTimeouts.Eventually(() => fake.Count("up 20") == 1, "first sent");
        var second = h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery));
        var third = await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Time)).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Busy, third.Outcome);
        Assert.False(first.IsCompleted);
        release.SetResult();
        Assert.Equal(DroneCommandOutcome.Ok, (await first.WithTimeout()).Outcome);
        Assert.Equal(DroneCommandOutcome.Ok, (await second.WithTimeout()).Outcome);
    }

    [Fact]
    public async Task Cancelled_caller_gets_aborted_and_the_link_resyncs_before_the_next_command()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        fake.Next("forward 100");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var result = await h.Drone().ExecuteAsync(Move(MoveDirection.Forward, 100), cts.Token).WithTimeout();
        Assert.Equal(DroneCommandOutcome.Aborted, result.Outcome);
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Contains("sn?", fake.Received);
    }

    [Fact]
    public async Task Keepalive_is_sent_while_airborne_and_idle_and_falls_back_to_battery_when_unknown()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.KeepaliveInterval = TimeSpan.FromMilliseconds(600);
        await using var h = await FleetHarness.StartAsync(output, options, fake);
        fake.StateText = "h:80;bat:80;tof:80;";
        await TaskTimeouts.Eventually(() => h.Drone().Status.IsFlying, "state shows the drone airborne");

        fake.Next("keepalive", "unknown command: keepalive");
        await TaskTimeouts.Eventually(() => fake.Count("keepalive") == 1, "keepalive sent when idle");
        await TaskTimeouts.Eventually(() => fake.Count("battery?") >= 2, "battery? used as the keepalive from then on");
        Assert.Equal(1, fake.Count("keepalive"));
    }

    [Fact]
    public async Task No_keepalive_while_landed()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.KeepaliveInterval = TimeSpan.FromMilliseconds(300);
        await using var h = await FleetHarness.StartAsync(output, options, fake);
        await Task.Delay(1200);
        Assert.Equal(0, fake.Count("keepalive"));
        Assert.Equal(0, fake.Count("battery?"));
    }

    [Fact]
    public async Task Drone_reboot_makes_the_link_lost_and_it_comes_back_by_itself()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var changes = new List<(DroneLinkHealth, DroneLinkHealth)>();
        h.Drone().HealthChanged += (_, from, to) => { lock (changes) { changes.Add((from, to)); } };
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        var commandsBefore = fake.Count("command");

        fake.Reboot(TimeSpan.FromSeconds(3.5)); // longer than LostAfter (2.5 s)
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Lost, "link goes lost");
        Assert.Equal(DroneCommandOutcome.LinkDown, (await h.Drone().ExecuteAsync(TelloCommand.Takeoff).WithTimeout()).Outcome);
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Fresh, "link comes back by itself");

        Assert.True(fake.Count("command") > commandsBefore, "command was re-sent");
        lock (changes)
        {
            Assert.Contains((DroneLinkHealth.Fresh, DroneLinkHealth.Degraded), changes);
            Assert.Contains((DroneLinkHealth.Degraded, DroneLinkHealth.Lost), changes);
            Assert.Contains((DroneLinkHealth.Lost, DroneLinkHealth.Fresh), changes);
        }

        var events = h.DrainRecords().Where(r => r.Kind == RecordKind.Event).Select(r =>
            JsonDocument.Parse(r.Payload).RootElement.GetProperty("event").GetString()).ToList();
        Assert.Equal(["link_up", "link_down", "link_up"], events);
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
    }

    [Fact]
    public async Task Every_state_datagram_becomes_a_drone_state_record()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        TelloState? seen = null;
        h.Drone().StateReceived += (_, s) => seen = s;
        await TaskTimeouts.Eventually(() => seen is not null && h.Fleet.Counters.StateDatagrams >= 3, "state flows");

        var records = h.DrainRecords();
        var state = records.Where(r => r.Kind == RecordKind.DroneState).ToList();
        Assert.True(state.Count >= 3);
        Assert.All(state, r => Assert.Equal("drone/tello-1/state", r.Stream));
        var json = JsonDocument.Parse(state[^1].Payload).RootElement;
        Assert.Equal(87, json.GetProperty("battery_percent").GetInt32());
        Assert.Equal(-1000.0, json.GetProperty("accel_z_mg").GetDouble());
        Assert.StartsWith("mid:-1;", json.GetProperty("raw").GetString());
        Assert.True(state[^1].MonotonicTimestamp > state[0].MonotonicTimestamp);
        var up = Assert.Single(records, r => r.Kind == RecordKind.Event);
        Assert.Equal("drone/tello-1/events", up.Stream);
        Assert.Equal(87, h.Drone().Status.Battery);
    }

    [Fact]
    public async Task State_from_unknown_address_and_bad_datagrams_are_ignored_counted_and_survived()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        using var stranger = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.9"), 0));
        var state = Encoding.ASCII.GetBytes("h:0;bat:1;\r\n");
        await stranger.SendAsync(state, state.Length, h.Fleet.StateEndPoint!);
        await stranger.SendAsync(Encoding.ASCII.GetBytes("ok"), 2, h.Fleet.CommandEndPoint!);
        await TaskTimeouts.Eventually(() => h.Fleet.Counters.UnknownSourceDatagrams >= 2, "unknown source counted");
        Assert.Equal(87, h.Drone().Status.Battery);

        fake.SendFromStateSocket(Encoding.ASCII.GetBytes("pitch:0;roll:-1;yaw:0;vgx:0;vgy:0;vg"));
        fake.SendFromStateSocket([0xCC, 0x58, 0x00, 0x7C, 0x68, 0x54, 0x00, 0xE4, 0x01, 0xC2, 0x16]);
        fake.SendFromStateSocket(new byte[65_507]);
        fake.SendFromStateSocket(Encoding.ASCII.GetBytes(new string('A', 65_000)));
        fake.SendToCommander([0xCC, 0x18, 0x01, 0xB9, 0x88, 0x56, 0x00]);
        // Truncated and both 64 KiB datagrams are bad state; the 0xCC packets on either channel are binary.
        await TaskTimeouts.Eventually(() => h.Fleet.Counters.BadStateDatagrams >= 3 && h.Fleet.Counters.BinaryDatagrams >= 2,
            "bad datagrams counted");
        Assert.Equal(3, h.Fleet.Counters.BadStateDatagrams);
        Assert.Equal(2, h.Fleet.Counters.BinaryDatagrams);

        var before = h.Fleet.Counters.StateDatagrams;
        await TaskTimeouts.Eventually(() => h.Fleet.Counters.StateDatagrams > before + 2, "good state still parsed");
        Assert.Equal(DroneLinkHealth.Fresh, h.Drone().Status.Health);
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        h.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Two_drones_share_the_sockets_and_are_kept_apart()
    {
        await using var a = new FakeTello("127.0.0.2") { Battery = "41" };
        await using var b = new FakeTello("127.0.0.3") { Battery = "92" };
        a.StateText = "h:0;bat:41;tof:10;\r\n";
        b.StateText = "h:0;bat:92;tof:10;\r\n";
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(a.AddressText, b.AddressText), a, b);

        var ra = h.Fleet.Find("tello-1")!.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery));
        var rb = h.Fleet.Find("tello-2")!.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery));
        Assert.Equal(41, (await ra.WithTimeout()).Values!["battery"]);
        Assert.Equal(92, (await rb.WithTimeout()).Values!["battery"]);
        Assert.Equal(41, h.Fleet.Find("tello-1")!.Status.Battery);
        Assert.Equal(92, h.Fleet.Find("tello-2")!.Status.Battery);
        Assert.Contains("battery?", a.Received);
        Assert.Contains("battery?", b.Received);
        var streams = h.DrainRecords().Where(r => r.Kind == RecordKind.DroneState)
            .GroupBy(r => r.Stream).ToDictionary(g => g.Key, g => JsonDocument.Parse(g.Last().Payload).RootElement.GetProperty("battery_percent").GetInt32());
        Assert.Equal(41, streams["drone/tello-1/state"]);
        Assert.Equal(92, streams["drone/tello-2/state"]);
        Assert.Null(h.Fleet.Find("tello-3"));
    }

    [Fact]
    public async Task Shutdown_while_airborne_sends_land()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.Takeoff).WithTimeout()).Outcome);
        fake.StateText = "h:80;bat:80;tof:80;";
        await h.DisposeAsync();
        await TaskTimeouts.Eventually(() => fake.Count("land") == 1, "land sent on shutdown");
    }
    private static List<string?> EventNames(FleetHarness h) => h.DrainRecords().Where(r => r.Kind == RecordKind.Event)
        .Select(r => JsonDocument.Parse(r.Payload).RootElement.GetProperty("event").GetString()).ToList();

    private static async Task<FleetHarness> AirborneAsync(ITestOutputHelper output, FakeTello fake, DroneOptions options)
    {
        fake.StateText = "h:80;bat:80;tof:90;vgx:0;vgy:0;vgz:0;\r\n";
        var h = await FleetHarness.StartAsync(output, options, fake);
        await TaskTimeouts.Eventually(() => h.Drone().Status.IsFlying, "state shows the drone airborne");
        return h;
    }

    [Fact]
    public async Task Not_joystick_to_a_move_is_retried_once_when_state_shows_a_hover()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await AirborneAsync(output, fake, FleetHarness.Options(fake.AddressText));

        fake.Next("forward 50", "error Not joystick");
        var r = await h.Drone().ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, r.Outcome);
        Assert.Equal("ok", r.Reply);
        Assert.Equal(2, fake.Count("forward 50"));
        Assert.Equal(1, h.Fleet.Counters.NotJoystickRetries);
        Assert.Equal(0, h.Fleet.Counters.Resyncs);
    }

    [Fact]
    public async Task Second_not_joystick_is_returned_as_a_drone_error_without_a_third_try()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await AirborneAsync(output, fake, FleetHarness.Options(fake.AddressText));

        fake.Next("forward 50", "error Not joystick");
        fake.Next("forward 50", "error Not joystick");
        var r = await h.Drone().ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.DroneError, r.Outcome);
        Assert.Equal("error Not joystick", r.Reply);
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(2, fake.Count("forward 50"));
    }

    [Fact]
    public async Task Not_joystick_is_not_retried_while_state_shows_the_drone_still_moving()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.NotJoystickHoverTimeout = TimeSpan.FromMilliseconds(800);
        await using var h = await AirborneAsync(output, fake, options);
        fake.StateText = "h:80;bat:80;tof:90;vgx:6;vgy:0;vgz:0;\r\n"; // drifting at 6 dm/s: no hover

        fake.Next("forward 50", "error Not joystick");
        var r = await h.Drone().ExecuteAsync(Move(MoveDirection.Forward, 50)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.DroneError, r.Outcome);
        Assert.Equal("error Not joystick", r.Reply);
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(1, fake.Count("forward 50"));
        Assert.Equal(0, h.Fleet.Counters.NotJoystickRetries);
    }

    [Fact]
    public async Task Not_joystick_to_a_read_or_setting_is_not_retried()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await AirborneAsync(output, fake, FleetHarness.Options(fake.AddressText));

        fake.Next("speed 50", "error Not joystick");
        var r = await h.Drone().ExecuteAsync(Speed(50)).WithTimeout();

        Assert.Equal(DroneCommandOutcome.DroneError, r.Outcome);
        Assert.Equal(1, fake.Count("speed 50"));
    }

    [Fact]
    public async Task Drone_lost_while_airborne_gets_land_at_once_and_again_when_state_returns_still_airborne()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await AirborneAsync(output, fake, FleetHarness.Options(fake.AddressText));

        fake.Reboot(TimeSpan.FromSeconds(3.5)); // silent past LostAfter (2.5 s); it hears nothing meanwhile
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Lost, "link lost");
        await TaskTimeouts.Eventually(() => fake.Count("land") == 1, "land sent when the link went lost");
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Fresh, "link back");
        await TaskTimeouts.Eventually(() => fake.Count("land") == 2, "land sent again: state shows it still airborne");

        // Once only: a read queued behind anything else proves no third land went out.
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(2, fake.Count("land"));
        var sent = fake.Received.ToList();
        Assert.True(sent.LastIndexOf("sn?") < sent.LastIndexOf("land"), "the second land follows a resync: " + string.Join(", ", sent));
        Assert.Equal(["link_up", "link_down", "land_on_link_loss", "link_up", "land_on_link_back"], EventNames(h));
    }

    [Fact]
    public async Task Pilot_command_during_the_loss_cancels_the_second_land()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await AirborneAsync(output, fake, FleetHarness.Options(fake.AddressText));

        // Silent well past LostAfter (2.5 s), so the pilot's command lands inside the loss even on a loaded machine.
        fake.Reboot(TimeSpan.FromSeconds(6));
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Lost, "link lost");
        Assert.True(TelloCommand.TryRc(0, 0, 0, 0, out var rc, out _));
        Assert.Equal(DroneCommandOutcome.LinkDown, (await h.Drone().ExecuteAsync(rc).WithTimeout()).Outcome);
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Fresh, "link back");

        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(1, fake.Count("land"));
        Assert.DoesNotContain("land_on_link_back", EventNames(h));
    }

    [Fact]
    public async Task Link_loss_aborts_a_pending_long_command_so_reconnect_starts_at_once()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.GoCurveTimeout = TimeSpan.FromMinutes(2);
        await using var h = await FleetHarness.StartAsync(output, options, fake);
        Assert.True(TelloCommand.TryGo(200, 0, 0, 50, out var go, out _));
        fake.Next(go.Text); // no reply: without the abort the link would wait 2 minutes

        var pending = h.Drone().ExecuteAsync(go);
        await TaskTimeouts.Eventually(() => fake.Count(go.Text) == 1, "go sent");
        var commandsBefore = fake.Count("command");
        fake.Reboot(TimeSpan.FromSeconds(6)); // lost at ~2.5 s; 3.5 s of margin before it can be back

        var r = await pending.WithTimeout(TimeSpan.FromSeconds(30));
        Assert.Equal(DroneCommandOutcome.Aborted, r.Outcome);
        Assert.Null(r.Reply);
        Assert.Equal(DroneLinkHealth.Lost, h.Drone().Status.Health);
        await TaskTimeouts.Eventually(() => fake.Count("command") > commandsBefore, "command re-sent while lost");
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Fresh, "link back");
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(1, fake.Count(go.Text)); // never re-sent
        Assert.Equal(0, fake.Count("land")); // it was not airborne
    }
    [Fact]
    public async Task Emergency_during_the_hover_wait_cancels_the_not_joystick_retry()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.NotJoystickHoverTimeout = TimeSpan.FromSeconds(30);
        await using var h = await AirborneAsync(output, fake, options);
        fake.StateText = "h:80;bat:80;tof:90;vgx:6;vgy:0;vgz:0;\r\n"; // still moving: the link keeps waiting

        fake.Next("forward 50", "error Not joystick");
        var move = h.Drone().ExecuteAsync(Move(MoveDirection.Forward, 50));
        await TaskTimeouts.Eventually(() => h.Logs.Entries.Any(e => e.Id.Id == 1021), "refused; waiting for a hover");
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await h.Drone().ExecuteAsync(TelloCommand.Emergency).WithTimeout()).Outcome);
        fake.StateText = "h:80;bat:80;tof:90;vgx:0;vgy:0;vgz:0;\r\n"; // a hover now must not bring the move back

        var r = await move.WithTimeout();
        Assert.Equal(DroneCommandOutcome.DroneError, r.Outcome);
        Assert.Equal("error Not joystick", r.Reply);
        Assert.Equal(1, fake.Count("forward 50"));
    }

    [Fact]
    public async Task With_land_on_link_loss_off_a_lost_airborne_drone_gets_no_land()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var options = FleetHarness.Options(fake.AddressText);
        options.LandOnLinkLoss = false;
        await using var h = await AirborneAsync(output, fake, options);

        fake.Reboot(TimeSpan.FromSeconds(3.5));
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Lost, "link lost");
        await TaskTimeouts.Eventually(() => h.Drone().Status.Health == DroneLinkHealth.Fresh, "link back");
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);

        Assert.Equal(0, fake.Count("land"));
        Assert.Equal(["link_up", "link_down", "link_up"], EventNames(h));
    }
}
