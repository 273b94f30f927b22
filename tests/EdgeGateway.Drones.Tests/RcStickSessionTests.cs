using EdgeGateway.Drones.Tello;

namespace EdgeGateway.Drones.Tests;

/// <summary>rc is audited per stick session, not per datagram (pure logic, injected clock).</summary>
public sealed class RcStickSessionTests
{
    private static readonly DateTimeOffset Wall = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly ManualTimeProvider _time = new();
    private readonly List<RcSessionRecord> _records = [];
    private readonly RcStickSession _session;

    public RcStickSessionTests() => _session = new RcStickSession(_time, _records.Add);

    private static TelloCommand Rc(int roll, int pitch, int throttle, int yaw) =>
        TelloCommand.TryRc(roll, pitch, throttle, yaw, out var c, out var e) ? c! : throw new InvalidOperationException(e);

    private void Send(TelloCommand rc, bool sent = true, string? origin = "local-api:stick") => _session.OnRc(rc, sent, origin, Wall);

    [Fact]
    public void Rc_at_joystick_rate_makes_one_start_and_one_end_record_carrying_the_count_and_max_sticks()
    {
        // 10 s at 50 Hz: 500 datagrams with varying sticks, then the sticks are centred.
        for (var i = 0; i < 500; i++)
        {
            Send(Rc(i % 40 - 20, -(i % 70), 5, i == 250 ? -100 : 3));
            _time.Advance(TimeSpan.FromMilliseconds(20));
            _session.OnTick();
        }

        Send(Rc(0, 0, 0, 0));

        Assert.Equal(2, _records.Count);
        var start = _records[0];
        Assert.Equal(RcSessionPhase.Start, start.Phase);
        Assert.Equal(1, start.Count);
        Assert.Equal("rc -20 0 5 3", start.Command);
        Assert.Equal("local-api:stick", start.Origin);
        Assert.Equal(Wall, start.StartedAt);

        var end = _records[1];
        Assert.Equal(RcSessionPhase.End, end.Phase);
        Assert.Equal(start.Id, end.Id);
        Assert.Equal(RcSessionEnd.Zero, end.EndedBy);
        Assert.Equal(501, end.Count);
        Assert.Equal(501, end.Sent);
        Assert.Equal([20, 69, 5, 100], end.MaxAbs);
        Assert.Equal("rc 0 0 0 0", end.Command);
        Assert.Equal(TimeSpan.FromMilliseconds(20 * 500), end.Duration);
    }

    [Fact]
    public void Centred_sticks_outside_a_session_write_nothing()
    {
        for (var i = 0; i < 200; i++)
        {
            Send(Rc(0, 0, 0, 0));
            _time.Advance(TimeSpan.FromMilliseconds(20));
            _session.OnTick();
        }

        _session.OnOtherCommand();
        _session.Close();
        Assert.Empty(_records);
    }

    [Fact]
    public void No_rc_for_a_second_ends_the_session_on_the_tick_and_the_next_rc_starts_a_new_one()
    {
        Send(Rc(30, 0, 0, 0));
        Send(Rc(40, 0, 0, 0));
        _time.Advance(TimeSpan.FromMilliseconds(999));
        _session.OnTick();
        Assert.Single(_records); // not yet idle

        _time.Advance(TimeSpan.FromMilliseconds(1));
        _session.OnTick();
        Assert.Equal(2, _records.Count);
        Assert.Equal(RcSessionEnd.Idle, _records[1].EndedBy);
        Assert.Equal(2, _records[1].Count);
        Assert.Equal(40, _records[1].MaxAbs[0]);
        _session.OnTick();
        Assert.Equal(2, _records.Count); // ended once

        Send(Rc(0, 10, 0, 0));
        Assert.Equal(3, _records.Count);
        Assert.Equal(RcSessionPhase.Start, _records[2].Phase);
        Assert.NotEqual(_records[0].Id, _records[2].Id);
    }

    [Fact]
    public void A_gap_of_a_second_without_a_tick_still_splits_the_session_at_the_next_rc()
    {
        Send(Rc(30, 0, 0, 0));
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Send(Rc(50, 0, 0, 0));

        Assert.Equal(3, _records.Count);
        Assert.Equal(RcSessionEnd.Idle, _records[1].EndedBy);
        Assert.Equal(1, _records[1].Count);
        Assert.Equal(RcSessionPhase.Start, _records[2].Phase);
        Assert.Equal(50, _records[2].MaxAbs[0]);
    }

    [Fact]
    public void Another_command_a_new_origin_or_shutdown_ends_the_session()
    {
        Send(Rc(10, 0, 0, 0));
        _session.OnOtherCommand();
        Assert.Equal(RcSessionEnd.Command, _records[^1].EndedBy);

        Send(Rc(10, 0, 0, 0), origin: "a");
        Send(Rc(20, 0, 0, 0), origin: "b");
        Assert.Equal(RcSessionEnd.OriginChanged, _records[^2].EndedBy);
        Assert.Equal("a", _records[^2].Origin);
        Assert.Equal(RcSessionPhase.Start, _records[^1].Phase);
        Assert.Equal("b", _records[^1].Origin);

        _session.Close();
        Assert.Equal(RcSessionEnd.Shutdown, _records[^1].EndedBy);
        Assert.Equal(6, _records.Count);
    }

    [Fact]
    public void Refused_rc_is_counted_apart_from_sent_rc()
    {
        Send(Rc(10, 0, 0, 0), sent: false);
        Send(Rc(10, 0, 0, 0), sent: true);
        Send(Rc(10, 0, 0, 0), sent: false);
        Send(Rc(0, 0, 0, 0), sent: true);

        var end = _records[^1];
        Assert.Equal(4, end.Count);
        Assert.Equal(2, end.Sent);
    }
}
