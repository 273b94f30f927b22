using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Records;
using EdgeGateway.Simulator;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

/// <summary>A record writer that keeps what it is given, or refuses everything while <see cref="Full"/>.</summary>
internal sealed class CapturingWriter : IRecordWriter
{
    private readonly ConcurrentQueue<TelemetryRecord> _records = new();
    private long _refused;

    public volatile bool Full;

    public long Refused => Interlocked.Read(ref _refused);

    public bool TryWrite(TelemetryRecord record)
    {
        if (Full)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }

        _records.Enqueue(record);
        return true;
    }

    public List<TelemetryRecord> Audits => [.. _records.Where(r => r.Kind == RecordKind.CommandAudit)];

    /// <summary>The audit payloads of one command text, in write order.</summary>
    public List<JsonElement> AuditsOf(string command) =>
        [.. Audits.Select(r => JsonDocument.Parse(r.Payload).RootElement).Where(e => e.GetProperty("command").GetString() == command)];
}

/// <summary>Every command the link executes leaves a CommandAudit record (real link, simulator, real UDP).</summary>
public sealed class CommandAuditTests(ITestOutputHelper output)
{
    private static TelloCommand Move(MoveDirection d, int cm) =>
        TelloCommand.TryMove(d, cm, out var c, out var e) ? c : throw new InvalidOperationException(e);

    private async Task<(FleetHarness Harness, TelloSimulator Sim)> StartAsync(IRecordWriter writer, Action<DroneOptions>? configure = null)
    {
        var statePort = FreePort.Udp();
        var sim = new TelloSimulator(new TelloSimulatorOptions
        {
            Address = IPAddress.Parse("127.0.0.2"),
            CommandPort = 0,
            StatePort = statePort,
            TimeScale = 10,
            AutoLandTimeout = Timeout.InfiniteTimeSpan,
        });
        await sim.StartAsync().WithTimeout();
        var options = FleetHarness.Options(sim.CommandEndPoint.ToString());
        options.StatePort = statePort;
        configure?.Invoke(options);
        var harness = await FleetHarness.StartAsync(output, options, writer, heartbeats: null);
        await harness.WaitFreshAsync();
        return (harness, sim);
    }

    private static void AssertResult(JsonElement e, string outcome, bool sent, string? origin, string kind)
    {
        Assert.Equal("result", e.GetProperty("phase").GetString());
        Assert.Equal("tello-1", e.GetProperty("drone_id").GetString());
        Assert.Equal(kind, e.GetProperty("kind").GetString());
        Assert.Equal(outcome, e.GetProperty("outcome").GetString());
        Assert.Equal(sent, e.GetProperty("sent").GetBoolean());
        Assert.Equal(origin, e.GetProperty("origin").GetString());
        Assert.True(e.GetProperty("latency_ms").GetDouble() >= 0);
        Assert.True(DateTimeOffset.Parse(e.GetProperty("requested_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.False(string.IsNullOrEmpty(e.GetProperty("audit_id").GetString()));
    }

    /// <summary>A command that waits for a reply and can change the drone: a "sent" record, then its result with the same id.</summary>
    private static JsonElement SentThenResult(List<JsonElement> records)
    {
        Assert.Equal(2, records.Count);
        Assert.Equal("sent", records[0].GetProperty("phase").GetString());
        Assert.False(records[0].TryGetProperty("outcome", out _));
        Assert.Equal(records[0].GetProperty("audit_id").GetString(), records[1].GetProperty("audit_id").GetString());
        return records[1];
    }

    [Fact]
    public async Task Every_command_outcome_yields_its_audit_record_with_origin_reply_and_latency()
    {
        var writer = new CapturingWriter();
        var (h, sim) = await StartAsync(writer);
        await using var harness = h;
        await using var simulator = sim;
        var drone = h.Drone();

        // A read: one record, with the caller's origin and the raw reply.
        Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery), "local-api:ops-laptop").WithTimeout()).Outcome);
        var battery = Assert.Single(writer.AuditsOf("battery?"));
        AssertResult(battery, "ok", sent: true, origin: "local-api:ops-laptop", kind: "read");
        Assert.Equal("100", battery.GetProperty("reply").GetString());

        // Takeoff without an origin (the old overload): sent, then ok.
        Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.Takeoff).WithTimeout()).Outcome);
        var takeoff = SentThenResult(writer.AuditsOf("takeoff"));
        AssertResult(takeoff, "ok", sent: true, origin: null, kind: "takeoff");
        Assert.Equal("ok", takeoff.GetProperty("reply").GetString());

        // rc: audited per stick session, not per datagram (see Rc_at_joystick_rate_is_audited_as_a_stick_session).
        Assert.True(TelloCommand.TryRc(0, 0, 0, 0, out var rc, out _));
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(rc!, "local-api:stick").WithTimeout()).Outcome);
        Assert.Empty(writer.AuditsOf(rc!.Text)); // centred sticks outside a session move nothing

        // A drone-side error, with its reply.
        sim.OverrideNextReply("error No valid imu");
        var cw = TelloCommand.TryRotate(true, 90, out var c, out _) ? c! : throw new InvalidOperationException();
        Assert.Equal(DroneCommandOutcome.DroneError, (await drone.ExecuteAsync(cw, "failsafe").WithTimeout()).Outcome);
        var error = SentThenResult(writer.AuditsOf(cw.Text));
        AssertResult(error, "drone_error", sent: true, origin: "failsafe", kind: "motion");
        Assert.Equal("error No valid imu", error.GetProperty("reply").GetString());

        // A timeout: the reply is dropped; the command was sent and may have run.
        sim.DropNextReplies(1);
        var up = Move(MoveDirection.Up, 20);
        Assert.Equal(DroneCommandOutcome.Timeout, (await drone.ExecuteAsync(up).WithTimeout()).Outcome);
        var timeout = SentThenResult(writer.AuditsOf(up.Text));
        AssertResult(timeout, "timeout", sent: true, origin: null, kind: "motion");
        // The move timeout is at least MoveTimeoutMargin (1 s in the harness).
        Assert.True(timeout.GetProperty("latency_ms").GetDouble() >= 990, timeout.ToString());

        // Emergency during a long move: the move is aborted (sent, may have run), emergency goes out with no reply.
        var forward = Move(MoveDirection.Forward, 500);
        var move = drone.ExecuteAsync(forward, "local-api:ops-laptop");
        await TaskTimeouts.Eventually(() => writer.AuditsOf(forward.Text).Count == 1, "the move's sent record");
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(TelloCommand.Emergency, "local-api:ops-laptop").WithTimeout()).Outcome);
        Assert.Equal(DroneCommandOutcome.Aborted, (await move.WithTimeout()).Outcome);
        AssertResult(SentThenResult(writer.AuditsOf(forward.Text)), "aborted", sent: true, origin: "local-api:ops-laptop", kind: "motion");
        AssertResult(Assert.Single(writer.AuditsOf("emergency")), "sent_no_reply", sent: true, origin: "local-api:ops-laptop", kind: "emergency");

        // Every record is a CommandAudit on the drone's command stream; housekeeping (command, sn?, keepalive) is not audited.
        Assert.All(writer.Audits, r => Assert.Equal("drone/tello-1/commands", r.Stream));
        Assert.Empty(writer.AuditsOf("command"));
        Assert.Empty(writer.AuditsOf("sn?"));
    }

    [Fact]
    public async Task Commands_refused_before_sending_are_audited_as_not_sent()
    {
        var writer = new CapturingWriter();
        // No drone at this address: the link stays Connecting.
        var options = FleetHarness.Options("127.0.0.9");
        options.QueueCapacity = 1;
        await using var h = await FleetHarness.StartAsync(output, options, writer, heartbeats: null);
        Assert.Equal(DroneCommandOutcome.LinkDown, (await h.Drone().ExecuteAsync(TelloCommand.Takeoff, "local-api:ops").WithTimeout()).Outcome);
        AssertResult(Assert.Single(writer.AuditsOf("takeoff")), "link_down", sent: false, origin: "local-api:ops", kind: "takeoff");
        Assert.True(TelloCommand.TryRc(10, 0, 0, 0, out var rc, out _));
        Assert.Equal(DroneCommandOutcome.LinkDown, (await h.Drone().ExecuteAsync(rc!).WithTimeout()).Outcome);
        var rcStart = Assert.Single(writer.AuditsOf(rc!.Text));
        Assert.Equal("rc_start", rcStart.GetProperty("phase").GetString());
        Assert.False(rcStart.GetProperty("sent").GetBoolean());
        // Emergency goes out whatever the health; as another command it ends the stick session first.
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await h.Drone().ExecuteAsync(TelloCommand.Emergency).WithTimeout()).Outcome);
        AssertResult(Assert.Single(writer.AuditsOf("emergency")), "sent_no_reply", sent: true, origin: null, kind: "emergency");
        var rcRecords = writer.AuditsOf(rc.Text);
        Assert.Equal(2, rcRecords.Count);
        Assert.Equal("rc_end", rcRecords[1].GetProperty("phase").GetString());
        Assert.Equal("command", rcRecords[1].GetProperty("ended_by").GetString());
        Assert.Equal(1, rcRecords[1].GetProperty("rc_count").GetInt32());
        Assert.Equal(0, rcRecords[1].GetProperty("rc_sent").GetInt32());
        Assert.False(rcRecords[1].GetProperty("sent").GetBoolean());
    }

    [Fact]
    public async Task A_full_writer_never_blocks_commands_and_each_refused_audit_is_counted()
    {
        var writer = new CapturingWriter();
        var (h, sim) = await StartAsync(writer);
        await using var harness = h;
        await using var simulator = sim;
        var drone = h.Drone();
        writer.Full = true;
        var droppedBefore = h.Fleet.Counters.RecordsDropped;
        var refusedBefore = writer.Refused;

        Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.Takeoff, "local-api:ops").WithTimeout()).Outcome);
        Assert.True(TelloCommand.TryRc(10, 0, 0, 0, out var rc, out _));
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(rc!).WithTimeout()).Outcome);
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(TelloCommand.Emergency).WithTimeout()).Outcome);

        // battery? 1 + takeoff 2 + rc session 2 + emergency 1 audits refused (state records are refused too, so at least 6).
        Assert.True(writer.Refused - refusedBefore >= 6, $"refused {writer.Refused - refusedBefore}");
        Assert.True(h.Fleet.Counters.RecordsDropped - droppedBefore >= 6);
        Assert.Empty(writer.Audits);

        writer.Full = false;
        Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.ReadOf(TelloRead.SerialNumber)).WithTimeout()).Outcome);
        AssertResult(Assert.Single(writer.AuditsOf("sn?")), "ok", sent: true, origin: null, kind: "read");
    }

    [Fact]
    public async Task The_gateways_own_land_on_link_loss_is_audited_with_a_gateway_origin()
    {
        var writer = new CapturingWriter();
        var (h, sim) = await StartAsync(writer);
        await using var harness = h;
        await using var simulator = sim;
        Assert.Equal(DroneCommandOutcome.Ok, (await h.Drone().ExecuteAsync(TelloCommand.Takeoff).WithTimeout()).Outcome);
        sim.Reboot(TimeSpan.FromSeconds(30)); // silent longer than LostAfter
        await TaskTimeouts.Eventually(() => writer.AuditsOf("land").Count >= 1, "land on link loss audited");
        var land = writer.AuditsOf("land")[0];
        AssertResult(land, "sent_no_reply", sent: true, origin: "gateway:land_on_link_loss", kind: "land");
    }
    private static TelloCommand Rc(int roll, int pitch, int throttle, int yaw) =>
        TelloCommand.TryRc(roll, pitch, throttle, yaw, out var c, out var e) ? c! : throw new InvalidOperationException(e);

    private static List<JsonElement> RcAudits(CapturingWriter writer) =>
        [.. writer.Audits.Select(r => JsonDocument.Parse(r.Payload).RootElement).Where(e => e.GetProperty("kind").GetString() == "rc")];

    [Fact]
    public async Task Rc_at_joystick_rate_is_audited_as_a_stick_session_with_its_count_and_max_sticks()
    {
        var writer = new CapturingWriter();
        var (h, sim) = await StartAsync(writer);
        await using var harness = h;
        await using var simulator = sim;
        var drone = h.Drone();

        // 200 stick datagrams, then centred sticks: a bounded number of audit records, not 201.
        for (var i = 1; i <= 200; i++)
        {
            var outcome = (await drone.ExecuteAsync(Rc(i % 30, -(i % 50), 0, i == 100 ? 100 : 0), "local-api:stick").WithTimeout()).Outcome;
            Assert.Equal(DroneCommandOutcome.SentNoReply, outcome);
        }

        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(Rc(0, 0, 0, 0), "local-api:stick").WithTimeout()).Outcome);
        var records = RcAudits(writer);
        // Normally exactly start + end; a stall of over a second on a loaded machine may split the session once or twice.
        Assert.InRange(records.Count, 2, 6);
        Assert.Equal(records.Count / 2, records.Count(r => r.GetProperty("phase").GetString() == "rc_start"));
        var ends = records.Where(r => r.GetProperty("phase").GetString() == "rc_end").ToList();
        Assert.Equal(201, ends.Sum(e => e.GetProperty("rc_count").GetInt32()));
        Assert.Equal(201, ends.Sum(e => e.GetProperty("rc_sent").GetInt32()));
        Assert.Equal(29, ends.Max(e => e.GetProperty("max_abs").GetProperty("roll").GetInt32()));
        Assert.Equal(49, ends.Max(e => e.GetProperty("max_abs").GetProperty("pitch").GetInt32()));
        Assert.Equal(100, ends.Max(e => e.GetProperty("max_abs").GetProperty("yaw").GetInt32()));
        var last = records[^1];
        Assert.Equal("zero", last.GetProperty("ended_by").GetString());
        Assert.Equal("rc 0 0 0 0", last.GetProperty("command").GetString());
        Assert.Equal(records[^2].GetProperty("audit_id").GetString(), last.GetProperty("audit_id").GetString());
        Assert.Equal("local-api:stick", last.GetProperty("origin").GetString());
        Assert.True(last.GetProperty("sent").GetBoolean());
        Assert.True(last.GetProperty("duration_ms").GetDouble() >= 0);

        // Sticks held, then the stick app stops sending: the supervisor ends the session after a second without rc.
        var before = records.Count;
        for (var i = 0; i < 50; i++)
        {
            await drone.ExecuteAsync(Rc(0, 0, 20, 0), "local-api:stick").WithTimeout();
        }

        await TaskTimeouts.Eventually(() => RcAudits(writer).Count >= before + 2, "the idle stick session ends");
        var idle = RcAudits(writer)[^1];
        Assert.Equal("rc_end", idle.GetProperty("phase").GetString());
        Assert.Equal("idle", idle.GetProperty("ended_by").GetString());
        Assert.Equal(20, idle.GetProperty("max_abs").GetProperty("throttle").GetInt32());
        Assert.Equal("rc 0 0 20 0", idle.GetProperty("command").GetString());
    }

    [Fact]
    public async Task Caller_cancelling_while_the_worker_sends_gets_aborted_and_the_audit_shows_sent_then_the_true_result()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var writer = new CapturingWriter();
        var logs = new TestLoggerProvider(output);
        using var hold = new HoldingLoggerProvider(1010, "'takeoff'");
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug));
        factory.AddProvider(logs);
        factory.AddProvider(hold);
        var fleet = new TelloFleet(FleetHarness.Options(fake.AddressText), writer, new SystemWallClock(TimeProvider.System),
            TimeProvider.System, factory);
        await using var disposeFleet = fleet;
        // Released before the fleet is disposed, also when an assertion fails, so the worker is never left held.
        try
        {
            await fleet.StartAsync().WithTimeout();
            fake.StateTarget = new IPEndPoint(IPAddress.Loopback, fleet.StateEndPoint!.Port);
            var drone = fleet.Drones[0];
            await TaskTimeouts.Eventually(() => drone.Status.Health == DroneLinkHealth.Fresh, "the drone becomes fresh");

            fake.Next("takeoff"); // silent: only the cancellation can end the command
            using var cts = new CancellationTokenSource();
            var takeoff = drone.ExecuteAsync(TelloCommand.Takeoff, "local-api:ops", cts.Token);
            // The worker is inside SendWithWaiter: the datagram has left the socket, the sent record is not written yet.
            await hold.Entered.WithTimeout();
            await cts.CancelAsync();
            Assert.Equal(DroneCommandOutcome.Aborted, (await takeoff.WithTimeout()).Outcome);
            Assert.Empty(writer.AuditsOf("takeoff")); // the caller does not guess: the worker has not decided yet

            hold.Release();
            await TaskTimeouts.Eventually(() => writer.AuditsOf("takeoff").Count >= 2, "the worker writes sent and result");
            var result = SentThenResult(writer.AuditsOf("takeoff"));
            AssertResult(result, "aborted", sent: true, origin: "local-api:ops", kind: "takeoff");
            await TaskTimeouts.Eventually(() => fake.Count("takeoff") == 1, "the drone got the takeoff datagram");

            // The queue still works and every command's records stay paired and ordered.
            Assert.Equal(DroneCommandOutcome.Ok, (await drone.ExecuteAsync(TelloCommand.Land, "local-api:ops").WithTimeout()).Outcome);
            AssertResult(SentThenResult(writer.AuditsOf("land")), "ok", sent: true, origin: "local-api:ops", kind: "land");
        }
        finally
        {
            hold.Release();
        }
    }

    [Fact]
    public async Task Caller_cancelling_a_command_still_queued_gets_one_not_sent_result_from_the_worker()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var writer = new CapturingWriter();
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), writer, heartbeats: null, fake);
        var drone = h.Drone();

        // A move held at the drone keeps the worker busy; the queued speed command is cancelled behind it.
        var release = new TaskCompletionSource();
        var forward = Move(MoveDirection.Forward, 100);
        fake.NextHeld(forward.Text, release.Task, "ok");
        var move = drone.ExecuteAsync(forward, "local-api:ops");
        await TaskTimeouts.Eventually(() => writer.AuditsOf(forward.Text).Count == 1, "the move's sent record");
        var speed = TelloCommand.TrySpeed(50, out var s, out _) ? s! : throw new InvalidOperationException();
        using var cts = new CancellationTokenSource();
        var queued = drone.ExecuteAsync(speed, "local-api:ops", cts.Token);
        await cts.CancelAsync();
        Assert.Equal(DroneCommandOutcome.Aborted, (await queued.WithTimeout()).Outcome);

        release.SetResult();
        Assert.Equal(DroneCommandOutcome.Ok, (await move.WithTimeout()).Outcome);
        await TaskTimeouts.Eventually(() => writer.AuditsOf(speed.Text).Count >= 1, "the worker writes the cancelled command's result");
        AssertResult(Assert.Single(writer.AuditsOf(speed.Text)), "aborted", sent: false, origin: "local-api:ops", kind: "set");
        Assert.Equal(0, fake.Count(speed.Text));
    }
}

/// <summary>Blocks the thread that logs one event (once) until released: holds the link's worker at an exact point.</summary>
internal sealed class HoldingLoggerProvider(int eventId, string contains) : ILoggerProvider
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _release = new();
    private int _held;

    public Task Entered => _entered.Task;

    public void Release() => _release.Set();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
        _release.Set();
        _release.Dispose();
    }

    private sealed class Logger(HoldingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == owner.EventId && formatter(state, exception).Contains(owner.Contains, StringComparison.Ordinal)
                && Interlocked.Exchange(ref owner._held, 1) == 0)
            {
                owner._entered.TrySetResult();
                owner._release.Wait(TimeSpan.FromSeconds(30));
            }
        }
    }

    private int EventId => eventId;

    private string Contains => contains;
}
