using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

public sealed class EndpointTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private IRecordBuffer _buffer = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders().AddProvider(_logs);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Buffer:DataDirectory"] = _dir.Path,
            ["Buffer:MaxBytes"] = "16777216",
            ["Buffer:MinFreeDiskBytes"] = "0",
            ["Buffer:BatchInterval"] = "00:00:00.005",
        });
        builder.Services.AddRecordBuffer(builder.Configuration.GetSection("Buffer"));
        // One sink that acknowledges everything, one whose link has been down since the first start.
        builder.Services.AddSingleton<IUpstreamSink>(new ScriptedSink("acking") { AutoAck = true });
        builder.Services.AddSingleton<IUpstreamSink>(new ScriptedSink("uplink") { NextResult = SinkSendResult.Disconnected });
        _app = builder.Build();
        _app.MapBufferEndpoints();
        await _app.StartAsync().WithTimeout();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
        _buffer = _app.Services.GetRequiredService<IRecordBuffer>();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync().WithTimeout();
        await _app.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Buffer_status_reports_depth_and_committed_sequence()
    {
        long last = 0;
        for (var i = 0; i < 5; i++)
        {
            last = (await _buffer.WriteAsync(Kit.Rec("drone/t1/state", i)).WithTimeout()).Sequence;
        }

        var json = await GetJsonAsync("/api/buffer", HttpStatusCode.OK);
        Assert.True(json.GetProperty("success").GetBoolean());
        Assert.Equal(last, json.GetProperty("committed_sequence").GetInt64());
        Assert.Equal(5, json.GetProperty("depth").GetInt64());
        Assert.Equal(16777216, json.GetProperty("max_bytes").GetInt64());
        Assert.Equal(JsonValueKind.Array, json.GetProperty("sinks").ValueKind);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Every_configured_sink_is_listed_with_cursor_lag_backlog_and_connection_even_before_its_first_ack()
    {
        var now = DateTimeOffset.UtcNow;
        var wall = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero).AddMinutes(-2); // whole µs: the store keeps microseconds
        long last = 0;
        for (var i = 0; i < 5; i++)
        {
            last = (await _buffer.WriteAsync(Kit.Rec("drone/t1/state", i) with { WallClock = wall.AddSeconds(i) }).WithTimeout()).Sequence;
        }

        JsonElement json = default;
        await TaskTimeouts.Eventually(() =>
        {
            json = GetJsonAsync("/api/buffer", HttpStatusCode.OK).GetAwaiter().GetResult();
            return Sink(json, "acking").GetProperty("cursor").GetInt64() == last;
        }, "the acknowledging sink's cursor reaches the last record");

        Assert.Equal(["acking", "uplink"], json.GetProperty("sinks").EnumerateArray().Select(k => k.GetProperty("name").GetString()));
        var acking = Sink(json, "acking");
        Assert.Equal(0, acking.GetProperty("lag").GetInt64());
        Assert.Equal(0, acking.GetProperty("backlog").GetInt64());
        Assert.Equal(JsonValueKind.Null, acking.GetProperty("oldest_unsent").ValueKind);
        Assert.True(acking.GetProperty("connected").GetBoolean());

        // Never connected, never acknowledged: backlog is everything committed, its age is the oldest record's.
        var uplink = Sink(json, "uplink");
        Assert.Equal(0, uplink.GetProperty("cursor").GetInt64());
        Assert.Equal(5, uplink.GetProperty("lag").GetInt64());
        Assert.Equal(5, uplink.GetProperty("backlog").GetInt64());
        Assert.Equal(wall, uplink.GetProperty("oldest_unsent").GetDateTimeOffset());
        Assert.False(uplink.GetProperty("connected").GetBoolean());
        Assert.Equal(wall, json.GetProperty("oldest_unsent").GetDateTimeOffset());

        // The same numbers on the backlog gauges (this app's meter only: other tests run buffers in parallel).
        var factory = _app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var gauges = Kit.ReadGauges(factory);
        Assert.Equal(5, gauges[("edge_buffer_backlog_records", "uplink")]);
        Assert.Equal(0, gauges[("edge_buffer_backlog_records", "acking")]);
        Assert.InRange(gauges[("edge_buffer_backlog_age_seconds", "uplink")], 110, 3600);
        Assert.Equal(0, gauges[("edge_buffer_backlog_age_seconds", "acking")]);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Buffer_and_telemetry_answer_503_when_the_buffer_is_not_running()
    {
        await _app.Services.GetRequiredService<RecordBuffer>().StopAsync().WithTimeout();
        foreach (var url in new[] { "/api/buffer", "/api/telemetry", "/api/telemetry?stream=drone/t1/state&after_seq=0&limit=5" })
        {
            var json = await GetJsonAsync(url, HttpStatusCode.ServiceUnavailable);
            Assert.False(json.GetProperty("success").GetBoolean());
            Assert.Contains("not running", json.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Non_json_payloads_come_back_as_payload_base64_and_json_ones_as_payload()
    {
        byte[] binary = [0xff, 0x00, 0x7b, 0x01, 0xfe];
        var t = TimeProvider.System;
        await _buffer.WriteAsync(new TelemetryRecord("sensor/raw0", RecordKind.SensorReading, t.GetUtcNow(), TimeSource.Unsynced, t.GetTimestamp(), binary)).WithTimeout();
        await _buffer.WriteAsync(Kit.Rec("sensor/raw0", 7, RecordKind.SensorReading)).WithTimeout();
        var json = await GetJsonAsync("/api/telemetry?stream=sensor/raw0", HttpStatusCode.OK);
        var records = json.GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(2, records.Count);
        Assert.Equal(JsonValueKind.Null, records[0].GetProperty("payload").ValueKind);
        Assert.Equal(binary, Convert.FromBase64String(records[0].GetProperty("payload_base64").GetString()!));
        Assert.Equal("unsynced", records[0].GetProperty("time_source").GetString());
        Assert.Equal(7, records[1].GetProperty("payload").GetProperty("n").GetInt64());
        Assert.Equal(JsonValueKind.Null, records[1].GetProperty("payload_base64").ValueKind);
    }

    private static JsonElement Sink(JsonElement status, string name)
        => status.GetProperty("sinks").EnumerateArray().Single(k => k.GetProperty("name").GetString() == name);

    [Fact]
    public async Task Telemetry_history_pages_by_stream_and_after_seq()
    {
        for (var i = 0; i < 5; i++)
        {
            _buffer.TryWrite(Kit.Rec("drone/t1/state", i));
            _buffer.TryWrite(Kit.Rec("sensor/gps0", i, RecordKind.SensorReading));
        }

        await _buffer.WriteAsync(Kit.Rec("drone/t1/state", 5)).WithTimeout();
        var page1 = await GetJsonAsync("/api/telemetry?stream=drone/t1/state&limit=4", HttpStatusCode.OK);
        var records = page1.GetProperty("records").EnumerateArray().ToList();
        Assert.Equal([0L, 1, 2, 3], records.Select(r => r.GetProperty("payload").GetProperty("n").GetInt64()));
        Assert.All(records, r => Assert.Equal("drone_state", r.GetProperty("kind").GetString()));
        Assert.All(records, r => Assert.Equal("ntp", r.GetProperty("time_source").GetString()));
        var next = page1.GetProperty("next_after_seq").GetInt64();
        Assert.Equal(records[^1].GetProperty("seq").GetInt64(), next);

        var page2 = await GetJsonAsync($"/api/telemetry?stream=drone/t1/state&after_seq={next}&limit=4", HttpStatusCode.OK);
        Assert.Equal([4L, 5], page2.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("payload").GetProperty("n").GetInt64()));

        var all = await GetJsonAsync("/api/telemetry", HttpStatusCode.OK);
        Assert.Equal(11, all.GetProperty("count").GetInt32());
        var none = await GetJsonAsync("/api/telemetry?stream=no/such/stream", HttpStatusCode.OK);
        Assert.Equal(0, none.GetProperty("count").GetInt32());
    }

    [Theory]
    [InlineData("/api/telemetry?after_seq=-1", "after_seq")]
    [InlineData("/api/telemetry?after_seq=abc", "after_seq")]
    [InlineData("/api/telemetry?after_seq=1&after_seq=2", "after_seq")]
    [InlineData("/api/telemetry?limit=0", "limit")]
    [InlineData("/api/telemetry?limit=1001", "limit")]
    [InlineData("/api/telemetry?limit=ten", "limit")]
    [InlineData("/api/telemetry?stream=", "stream")]
    [InlineData("/api/telemetry?stream=%20%20", "stream")]
    public async Task Bad_parameters_are_answered_with_400_and_a_json_error(string url, string names)
    {
        var json = await GetJsonAsync(url, HttpStatusCode.BadRequest);
        Assert.False(json.GetProperty("success").GetBoolean());
        Assert.Contains(names, json.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Records of one stream a given number of ms apart, at whole-µs wall clocks starting at <paramref name="start"/>.</summary>
    private async Task<List<long>> WriteSpacedAsync(string stream, DateTimeOffset start, int count, int everyMs)
    {
        var sequences = new List<long>();
        for (var i = 0; i < count; i++)
        {
            var r = Kit.Rec(stream, i) with { WallClock = start.AddMilliseconds(i * everyMs) };
            sequences.Add((await _buffer.WriteAsync(r).WithTimeout()).Sequence);
        }

        return sequences;
    }

    [Fact]
    public async Task Telemetry_since_ms_starts_at_the_first_record_stored_at_or_after_that_wall_clock_time()
    {
        var start = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeMilliseconds());
        var seqs = await WriteSpacedAsync("drone/t1/state", start, 50, 100);

        var json = await GetJsonAsync($"/api/telemetry?stream=drone/t1/state&since_ms={start.AddMilliseconds(2000).ToUnixTimeMilliseconds()}&limit=1000", HttpStatusCode.OK);

        var records = json.GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(30, records.Count);
        Assert.Equal(seqs[20], records[0].GetProperty("seq").GetInt64());
        Assert.False(json.GetProperty("more").GetBoolean());
        // Before everything: all of them; after everything: none.
        json = await GetJsonAsync($"/api/telemetry?stream=drone/t1/state&since_ms={start.AddHours(-1).ToUnixTimeMilliseconds()}&limit=1000", HttpStatusCode.OK);
        Assert.Equal(50, json.GetProperty("count").GetInt32());
        json = await GetJsonAsync($"/api/telemetry?stream=drone/t1/state&since_ms={start.AddHours(1).ToUnixTimeMilliseconds()}", HttpStatusCode.OK);
        Assert.Equal(0, json.GetProperty("count").GetInt32());
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Telemetry_every_ms_keeps_one_record_per_interval_per_stream_and_pages_on_with_more()
    {
        var start = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeMilliseconds());
        await WriteSpacedAsync("drone/t1/state", start, 100, 20); // 50 Hz for 2 s

        var json = await GetJsonAsync("/api/telemetry?stream=drone/t1/state&every_ms=200&limit=4", HttpStatusCode.OK);
        var walls = json.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("wall_clock").GetDateTimeOffset()).ToList();
        Assert.Equal(4, walls.Count);
        Assert.Equal([start, start.AddMilliseconds(200), start.AddMilliseconds(400), start.AddMilliseconds(600)], walls);
        Assert.True(json.GetProperty("more").GetBoolean());

        json = await GetJsonAsync($"/api/telemetry?stream=drone/t1/state&every_ms=200&limit=1000&after_seq={json.GetProperty("next_after_seq").GetInt64()}", HttpStatusCode.OK);
        // Each page thins on its own: the next one starts with the first record after the page (620 ms), then every 200 ms.
        Assert.Equal(start.AddMilliseconds(620), json.GetProperty("records")[0].GetProperty("wall_clock").GetDateTimeOffset());
        Assert.Equal(7, json.GetProperty("count").GetInt32()); // 620 … 1820 ms
        Assert.False(json.GetProperty("more").GetBoolean());
        _logs.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData("since_ms=-5")]
    [InlineData("since_ms=yesterday")]
    [InlineData("since_ms=1e400")]
    [InlineData("since_ms=1&since_ms=2")]
    [InlineData("every_ms=-1")]
    [InlineData("every_ms=3600001")]
    [InlineData("every_ms=0.5")]
    public async Task Telemetry_refuses_a_bad_since_ms_or_every_ms_with_400(string query)
    {
        var json = await GetJsonAsync("/api/telemetry?" + query, HttpStatusCode.BadRequest);
        Assert.False(json.GetProperty("success").GetBoolean());
        Assert.Contains(query.Split('=')[0], json.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private async Task<JsonElement> GetJsonAsync(string url, HttpStatusCode expected)
    {
        using var response = await _http.GetAsync(url).WithTimeout();
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>().WithTimeout();
    }
}
