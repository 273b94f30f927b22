using System.Diagnostics.Metrics;
using EdgeGateway.Hosting.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.Hosting.Tests;

public sealed class MetricsEndpointTests(ITestOutputHelper output)
{
    // Every test owns its meter and instrument names: the exporter sees every EdgeGateway.* meter in the process.
    private readonly string _id = Guid.NewGuid().ToString("N")[..8];

    private const string Tricky = "back\\slash \"quoted\"\nnext line, comma=} ünï";

    [Fact]
    public async Task Metrics_from_every_instrument_kind_parse_strictly_through_real_Kestrel()
    {
        var latency = $"edge_test_{_id}_latency_seconds";
        await using var server = await GatewayTestServer.Start(output, settings: new()
        {
            [$"Hosting:HistogramBuckets:{latency}:0"] = "0.1",
            [$"Hosting:HistogramBuckets:{latency}:1"] = "0.5",
            [$"Hosting:HistogramBuckets:{latency}:2"] = "1",
        });
        using var meter = new Meter($"EdgeGateway.Test{_id}");
        var datagrams = meter.CreateCounter<long>($"edge_test_{_id}_datagrams", description: "Datagrams \\ received\nper link.");
        var clients = meter.CreateUpDownCounter<int>($"edge_test_{_id}_clients");
        var latencyHistogram = meter.CreateHistogram<double>(latency, "s", "Command round trip.");
        var sizes = meter.CreateHistogram<long>($"edge_test_{_id}_frame_bytes");
        var temperature = meter.CreateGauge<double>($"edge_test_{_id}_temperature_celsius");
        meter.CreateObservableGauge($"edge_test_{_id}_specials", () => new[]
        {
            new Measurement<double>(double.PositiveInfinity, new KeyValuePair<string, object?>("kind", "pinf")),
            new Measurement<double>(double.NegativeInfinity, new KeyValuePair<string, object?>("kind", "ninf")),
            new Measurement<double>(double.NaN, new KeyValuePair<string, object?>("kind", "nan")),
            new Measurement<double>(1e-300, new KeyValuePair<string, object?>("kind", "tiny")),
        });
        meter.CreateObservableCounter($"edge_test_{_id}_uptime_seconds", () => 42.5);
        meter.CreateObservableUpDownCounter($"edge_test_{_id}_queue_depth", () => new Measurement<int>(-3, new KeyValuePair<string, object?>("queue", "q1")));
        var weird = meter.CreateCounter<double>($"9edge.test-{_id} weird/name");

        datagrams.Add(3, new KeyValuePair<string, object?>("link", "tello"), new KeyValuePair<string, object?>("path", Tricky));
        datagrams.Add(2, new KeyValuePair<string, object?>("path", Tricky), new KeyValuePair<string, object?>("link", "tello"));
        datagrams.Add(7);
        clients.Add(5);
        clients.Add(-2);
        foreach (var v in new[] { 0.05, 0.3, 0.3, 1.0, 2.0 })
        {
            latencyHistogram.Record(v, new KeyValuePair<string, object?>("command", "takeoff"));
        }

        sizes.Record(100);
        temperature.Record(21.5, new KeyValuePair<string, object?>("bad-key", 7));
        weird.Add(1.5);

        using var response = await server.Client.GetAsync("/metrics").WithTimeout();
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var text = await response.Content.ReadAsStringAsync().WithTimeout();
        output.WriteLine(text);
        var families = PrometheusTextParser.Parse(text);

        var counter = families[$"edge_test_{_id}_datagrams_total"];
        Assert.Equal("counter", counter.Type);
        Assert.Equal("Datagrams \\ received\nper link.", counter.Help);
        // Same tags in a different order are the same series.
        var tricky = Assert.Single(counter.Samples, s => s.Labels.Count == 2);
        Assert.Equal(Tricky, tricky.Label("path"));
        Assert.Equal("tello", tricky.Label("link"));
        Assert.Equal(5, tricky.Value);
        Assert.Equal(7, Assert.Single(counter.Samples, s => s.Labels.Count == 0).Value);

        Assert.Equal("gauge", families[$"edge_test_{_id}_clients"].Type);
        Assert.Equal(3, Assert.Single(families[$"edge_test_{_id}_clients"].Samples).Value);

        var histogram = families[latency];
        Assert.Equal("histogram", histogram.Type);
        var buckets = histogram.Samples.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
        Assert.Equal(["0.1", "0.5", "1", "+Inf"], buckets.Select(b => b.Label("le")));
        Assert.All(buckets, b => Assert.Equal("takeoff", b.Label("command")));
        // le is inclusive: 1.0 falls in le="1".
        Assert.Equal([1.0, 3.0, 4.0, 5.0], buckets.Select(b => b.Value));
        Assert.Equal(3.65, histogram.Samples.Single(s => s.Name == latency + "_sum").Value, 9);
        Assert.Equal(5, histogram.Samples.Single(s => s.Name == latency + "_count").Value);

        var sizeBuckets = families[$"edge_test_{_id}_frame_bytes"].Samples.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
        Assert.Equal("+Inf", sizeBuckets[^1].Label("le"));
        Assert.True(sizeBuckets.Count > 5, "byte histograms get default byte buckets");

        var temp = Assert.Single(families[$"edge_test_{_id}_temperature_celsius"].Samples);
        Assert.Equal("7", temp.Label("bad_key"));
        Assert.Equal(21.5, temp.Value);

        var specials = families[$"edge_test_{_id}_specials"].Samples.ToDictionary(s => s.Label("kind"), s => s.Value);
        Assert.True(double.IsPositiveInfinity(specials["pinf"]));
        Assert.True(double.IsNegativeInfinity(specials["ninf"]));
        Assert.True(double.IsNaN(specials["nan"]));
        Assert.Equal(1e-300, specials["tiny"]);

        Assert.Equal("counter", families[$"edge_test_{_id}_uptime_seconds_total"].Type);
        Assert.Equal(42.5, Assert.Single(families[$"edge_test_{_id}_uptime_seconds_total"].Samples).Value);
        Assert.Equal(-3, Assert.Single(families[$"edge_test_{_id}_queue_depth"].Samples).Value);
        Assert.Equal(1.5, Assert.Single(families[$"_9edge_test_{_id}_weird_name_total"].Samples).Value);

        Assert.True(Assert.Single(families["process_resident_memory_bytes"].Samples).Value > 0);
        Assert.Equal("counter", families["process_cpu_seconds_total"].Type);
        var start = Assert.Single(families["process_start_time_seconds"].Samples).Value;
        Assert.InRange(start, DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.True(Assert.Single(families["process_open_fds"].Samples).Value > 0);
        var build = Assert.Single(families["edge_build_info"].Samples);
        Assert.Equal(1, build.Value);
        Assert.Contains(".NET", build.Label("runtime"), StringComparison.Ordinal);
        server.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Observable_label_sets_no_longer_reported_disappear_and_runtime_meter_is_exported()
    {
        await using var server = await GatewayTestServer.Start(output);
        using var meter = new Meter($"EdgeGateway.Test{_id}");
        var links = new List<string> { "a", "b" };
        meter.CreateObservableGauge($"edge_test_{_id}_link_up", () => links.Select(l => new Measurement<int>(1, new KeyValuePair<string, object?>("link", l))));

        var first = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
        Assert.Equal(["a", "b"], first[$"edge_test_{_id}_link_up"].Samples.Select(s => s.Label("link")));
        links.Remove("a");
        var second = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
        Assert.Equal(["b"], second[$"edge_test_{_id}_link_up"].Samples.Select(s => s.Label("link")));
        Assert.Contains(second.Keys, k => k.StartsWith("dotnet_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Gauges_never_end_in_count_and_the_thread_pools_snapshots_are_gauges()
    {
        await using var server = await GatewayTestServer.Start(output);
        using var meter = new Meter($"EdgeGateway.Test{_id}");
        meter.CreateObservableUpDownCounter($"edge_test_{_id}.widget.count", () => 4, unit: "{widget}");
        var families = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());

        Assert.Equal(4, Assert.Single(families[$"edge_test_{_id}_widgets"].Samples).Value);
        Assert.Equal("gauge", families[$"edge_test_{_id}_widgets"].Type);
        Assert.DoesNotContain(families, f => f.Value.Type != "histogram" && f.Key.EndsWith("_count", StringComparison.Ordinal));
        // The runtime declares these as counters, but they fall as well as rise.
        Assert.Equal("gauge", families["dotnet_thread_pool_threads"].Type);
        Assert.Equal("gauge", families["dotnet_thread_pool_queue_length"].Type);
        Assert.DoesNotContain("dotnet_thread_pool_thread_count_total", families.Keys);
        Assert.DoesNotContain("dotnet_thread_pool_queue_length_total", families.Keys);
        Assert.Equal("gauge", families["dotnet_assemblies"].Type);
        Assert.Equal("counter", families["dotnet_thread_pool_work_item_count_total"].Type);
    }

    [Fact]
    public async Task Meters_outside_the_EdgeGateway_prefix_are_not_exported()
    {
        await using var server = await GatewayTestServer.Start(output);
        using var meter = new Meter($"Other.Test{_id}");
        meter.CreateCounter<long>($"other_{_id}_things").Add(1);
        var text = await server.Client.GetStringAsync("/metrics").WithTimeout();
        Assert.DoesNotContain($"other_{_id}_things", text, StringComparison.Ordinal);
        Assert.Contains("edge_build_info", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Label_sets_beyond_the_limit_are_dropped_and_logged_once()
    {
        await using var server = await GatewayTestServer.Start(output, settings: new() { ["Hosting:MaxSeriesPerInstrument"] = "2" });
        using var meter = new Meter($"EdgeGateway.Test{_id}");
        var counter = meter.CreateCounter<long>($"edge_test_{_id}_events");
        foreach (var client in new[] { "c1", "c2", "c3", "c4", "c1" })
        {
            counter.Add(1, new KeyValuePair<string, object?>("client", client));
        }

        var families = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
        var samples = families[$"edge_test_{_id}_events_total"].Samples.ToDictionary(s => s.Label("client"), s => s.Value);
        Assert.Equal(new Dictionary<string, double> { ["c1"] = 2, ["c2"] = 1 }, samples);
        Assert.Single(server.Logs.Entries, e => e.Id.Id == 3010 && e.Message.Contains(_id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Second_instrument_with_the_same_Prometheus_name_is_not_exported_and_is_logged()
    {
        await using var server = await GatewayTestServer.Start(output);
        using var meterA = new Meter($"EdgeGateway.TestA{_id}");
        using var meterB = new Meter($"EdgeGateway.TestB{_id}");
        meterA.CreateCounter<long>($"edge_test_{_id}_dupe").Add(1);
        meterB.CreateCounter<long>($"edge_test_{_id}_dupe").Add(10);
        var families = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
        Assert.Equal(1, Assert.Single(families[$"edge_test_{_id}_dupe_total"].Samples).Value);
        Assert.Contains(server.Logs.Entries, e => e.Id.Id == 3011 && e.Message.Contains($"EdgeGateway.TestB{_id}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Concurrent_updates_are_all_counted()
    {
        await using var server = await GatewayTestServer.Start(output);
        using var meter = new Meter($"EdgeGateway.Test{_id}");
        var counter = meter.CreateCounter<long>($"edge_test_{_id}_hits");
        var histogram = meter.CreateHistogram<double>($"edge_test_{_id}_wait_seconds");
        var scrapes = Task.Run(async () =>
        {
            for (var i = 0; i < 5; i++)
            {
                PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
            }
        });
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                counter.Add(1, new KeyValuePair<string, object?>("worker", t % 2 == 0 ? "even" : "odd"));
                histogram.Record(0.01 * (i % 7));
            }
        }))).WithTimeout(TimeSpan.FromSeconds(60));
        await scrapes.WithTimeout(TimeSpan.FromSeconds(60));

        var families = PrometheusTextParser.Parse(await server.Client.GetStringAsync("/metrics").WithTimeout());
        Assert.Equal(80_000, families[$"edge_test_{_id}_hits_total"].Samples.Sum(s => s.Value));
        Assert.Equal(80_000, families[$"edge_test_{_id}_wait_seconds"].Samples.Single(s => s.Name.EndsWith("_count", StringComparison.Ordinal)).Value);
    }

    [Fact]
    public async Task Head_request_gets_headers_without_a_body()
    {
        await using var server = await GatewayTestServer.Start(output);
        using var request = new HttpRequestMessage(HttpMethod.Head, "/metrics");
        using var response = await server.Client.SendAsync(request).WithTimeout();
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync().WithTimeout());
        Assert.NotNull(server.Services.GetService<IMetricsExposition>());
    }
}
