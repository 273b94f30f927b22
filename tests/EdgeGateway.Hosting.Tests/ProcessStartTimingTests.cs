using Xunit.Abstractions;

namespace EdgeGateway.Hosting.Tests;

public sealed class ProcessStartTimingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ready_time_is_measured_from_process_start_fixed_at_the_first_mark_and_exposed_on_metrics()
    {
        var sinceStart = ProcessStartTiming.SinceProcessStart();
        Assert.True(sinceStart > TimeSpan.Zero && sinceStart < TimeSpan.FromHours(1), $"process started {sinceStart} ago");

        var first = ProcessStartTiming.MarkReady();
        await Task.Delay(50);
        Assert.Equal(first, ProcessStartTiming.MarkReady());
        Assert.Equal(first, ProcessStartTiming.ReadyAfter);

        await using var server = await GatewayTestServer.Start(output);
        var families = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
        Assert.Equal(first.TotalSeconds, Assert.Single(families["edge_startup_ready_seconds"].Samples).Value, 6);
    }
}
