using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
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
    private readonly TempDir _dir = new();
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

    private async Task<JsonElement> GetJsonAsync(string url, HttpStatusCode expected)
    {
        using var response = await _http.GetAsync(url).WithTimeout();
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>().WithTimeout();
    }
}
