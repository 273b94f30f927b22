using System.Diagnostics.Metrics;
using EdgeGateway.Hosting.Metrics;

namespace EdgeGateway.Hosting.Tests;

/// <summary>Runs alone: other tests' exporters starting mid-measurement would allocate on this thread.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class UpdatePathAllocationTests
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void Update_path_does_not_allocate_once_a_label_set_is_known()
    {
        using var exporter = new PrometheusExporter(Microsoft.Extensions.Options.Options.Create(new HostingOptions()));
        using var meter = new Meter($"EdgeGateway.Test{_id}");
        var counter = meter.CreateCounter<long>($"edge_test_{_id}_alloc");
        var histogram = meter.CreateHistogram<double>($"edge_test_{_id}_alloc_seconds");
        var link = new KeyValuePair<string, object?>("link", "tello");
        var kind = new KeyValuePair<string, object?>("kind", "state");
        counter.Add(1, link, kind);
        histogram.Record(0.2, link, kind);

        // Best of three: another test's exporter may start listening mid-run and see its first label set here.
        var allocated = long.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 50_000; i++)
            {
                counter.Add(1, link, kind);
                histogram.Record(0.2, link, kind);
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        // A per-update allocation of even one object would be megabytes here; a few KB is the runtime's own noise.
        Assert.True(allocated < 32 * 1024, $"100 000 updates allocated {allocated} bytes");
        var families = PrometheusTextParser.Parse(exporter.Scrape());
        Assert.Equal(150_001, Assert.Single(families[$"edge_test_{_id}_alloc_total"].Samples).Value);
    }
}
