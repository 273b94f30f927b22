using EdgeGateway.Buffer.Upstream;

namespace EdgeGateway.Buffer.Tests;

public sealed class ExaminedSequencesTests
{
    [Fact]
    public void Two_lanes_read_apart_stay_apart_until_they_meet_and_the_cursor_collapses_them()
    {
        var examined = new ExaminedSequences();
        examined.PassedThrough(100);
        examined.Add(100, 150); // backlog lane
        examined.Add(1000, 1100); // live lane
        Assert.True(examined.Contains(100));
        Assert.True(examined.Contains(150));
        Assert.False(examined.Contains(151));
        Assert.False(examined.Contains(1000));
        Assert.True(examined.Contains(1001));
        Assert.False(examined.Contains(1101));
        Assert.Equal(1, examined.RangeCount); // the backlog range merged into the floor

        examined.Add(150, 1000); // the backlog reached the live start
        Assert.Equal(0, examined.RangeCount);
        Assert.True(examined.Contains(500));
        Assert.False(examined.Contains(1101));
    }

    [Fact]
    public void A_reread_from_the_cursor_finds_everything_examined()
    {
        var examined = new ExaminedSequences();
        examined.PassedThrough(10);
        examined.Add(10, 60);
        examined.Add(10, 40); // the retry read less this time
        Assert.True(examined.Contains(60));
        Assert.False(examined.Contains(61));
        examined.Add(10, 80);
        Assert.True(examined.Contains(80));
        Assert.Equal(0, examined.RangeCount);
    }
}
