namespace EdgeGateway.Hosting.Tests;

public sealed class HostingOptionsTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(new HostingOptions().Validate("Hosting"));
    }

    [Fact]
    public void Every_bad_value_is_reported_with_its_full_key()
    {
        var options = new HostingOptions
        {
            StatusIntervalSeconds = 0,
            MaxSeriesPerInstrument = 0,
            MeterPrefixes = ["EdgeGateway.", " "],
            HistogramBuckets = new()
            {
                ["edge_a_seconds"] = [0.1, 0.1],
                ["edge_b_seconds"] = [],
                ["edge_c_seconds"] = [1, double.PositiveInfinity],
            },
        };
        var errors = options.Validate("Hosting").ToList();
        Assert.Contains(errors, e => e.StartsWith("Hosting:StatusIntervalSeconds:", StringComparison.Ordinal) && e.Contains("1 to 3600", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Hosting:MaxSeriesPerInstrument:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Hosting:MeterPrefixes:1:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Hosting:HistogramBuckets:edge_a_seconds:1:", StringComparison.Ordinal) && e.Contains("increasing", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Hosting:HistogramBuckets:edge_b_seconds:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Hosting:HistogramBuckets:edge_c_seconds:1:", StringComparison.Ordinal) && e.Contains("finite", StringComparison.Ordinal));
        Assert.Equal(6, errors.Count);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(3601)]
    [InlineData(-1)]
    public void Status_interval_out_of_range_is_rejected(double seconds)
    {
        Assert.Single(new HostingOptions { StatusIntervalSeconds = seconds }.Validate("Hosting"));
    }
}
