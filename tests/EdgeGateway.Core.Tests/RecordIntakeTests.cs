using System.Text;
using EdgeGateway.Records;

namespace EdgeGateway.Core.Tests;

public sealed class RecordIntakeTests
{
    private static TelemetryRecord Record(int i) => new("drone/t1/state", RecordKind.DroneState,
        DateTimeOffset.UnixEpoch, TimeSource.Unsynced, i, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"));

    [Fact]
    public void Full_intake_drops_the_oldest_record_and_counts_it_without_blocking()
    {
        var intake = new RecordIntake(capacity: 3);

        for (var i = 0; i < 5; i++)
        {
            Assert.True(intake.TryWrite(Record(i)));
        }

        Assert.Equal(5, intake.Accepted);
        Assert.Equal(2, intake.Dropped);
        var kept = new List<long>();
        while (intake.Reader.TryRead(out var r))
        {
            kept.Add(r.MonotonicTimestamp);
        }

        Assert.Equal([2L, 3L, 4L], kept);
    }

    [Fact]
    public void Completed_intake_refuses_records()
    {
        var intake = new RecordIntake(capacity: 2);
        intake.Complete();
        Assert.False(intake.TryWrite(Record(1)));
        Assert.Equal(0, intake.Accepted);
    }
}
