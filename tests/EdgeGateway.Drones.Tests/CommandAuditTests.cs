using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using EdgeGateway.Records;
using EdgeGateway.Simulator;
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

        // rc: no reply by design, one record.
        Assert.True(TelloCommand.TryRc(0, 0, 0, 0, out var rc, out _));
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(rc!, "local-api:stick").WithTimeout()).Outcome);
        var rcAudit = Assert.Single(writer.AuditsOf(rc!.Text));
        AssertResult(rcAudit, "sent_no_reply", sent: true, origin: "local-api:stick", kind: "rc");
        Assert.Equal(JsonValueKind.Null, rcAudit.GetProperty("reply").ValueKind);

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
        AssertResult(Assert.Single(writer.AuditsOf(rc!.Text)), "link_down", sent: false, origin: null, kind: "rc");
        // Emergency goes out whatever the health.
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await h.Drone().ExecuteAsync(TelloCommand.Emergency).WithTimeout()).Outcome);
        AssertResult(Assert.Single(writer.AuditsOf("emergency")), "sent_no_reply", sent: true, origin: null, kind: "emergency");
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
        Assert.True(TelloCommand.TryRc(0, 0, 0, 0, out var rc, out _));
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(rc!).WithTimeout()).Outcome);
        Assert.Equal(DroneCommandOutcome.SentNoReply, (await drone.ExecuteAsync(TelloCommand.Emergency).WithTimeout()).Outcome);

        // battery? 1 + takeoff 2 + rc 1 + emergency 1 audits refused (state records are refused too, so at least 5).
        Assert.True(writer.Refused - refusedBefore >= 5, $"refused {writer.Refused - refusedBefore}");
        Assert.True(h.Fleet.Counters.RecordsDropped - droppedBefore >= 5);
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
}
