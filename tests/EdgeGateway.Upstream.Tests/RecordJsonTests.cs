using System.Globalization;
using System.Text;
using EdgeGateway.Buffer;
using EdgeGateway.Records;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// The record JSON is a wire format: these bytes must not change when its serializer is made cheaper. The expected
/// text is written out by hand (and the time checked against .NET's own custom DateTime format).
/// </summary>
public sealed class RecordJsonTests(ITestOutputHelper output)
{
    private static BufferedRecord Record(long seq, DateTimeOffset at, string payload, string stream = "drone/tello-1/state",
        RecordKind kind = RecordKind.DroneState, TimeSource source = TimeSource.Ntp) =>
        new(seq, stream, kind, at, source, 0, Encoding.UTF8.GetBytes(payload));

    [Fact]
    public void A_record_serializes_to_exactly_the_documented_bytes()
    {
        var at = new DateTimeOffset(2026, 11, 22, 2, 20, 30, 442, TimeSpan.Zero);
        var json = Encoding.UTF8.GetString(RecordJson.Serialize("gw1", Record(1795314030442001, at, "{\"bat\":87}")));
        Assert.Equal("{\"id\":\"gw1:1795314030442001\",\"gateway\":\"gw1\",\"seq\":1795314030442001,\"stream\":\"drone/tello-1/state\","
            + "\"kind\":\"drone_state\",\"time\":\"2026-11-22T02:20:30.442Z\",\"time_source\":\"ntp\",\"payload\":{\"bat\":87}}", json);
    }

    [Fact]
    public void A_payload_that_is_not_json_goes_as_base64_and_the_writer_is_reusable_after_it()
    {
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, 6, TimeSpan.FromHours(2));
        var bad = Encoding.UTF8.GetString(RecordJson.Serialize("gw-2.a_b", Record(7, at, "not json", "sensor/gps0", RecordKind.SensorReading, TimeSource.Gps)));
        Assert.Equal("{\"id\":\"gw-2.a_b:7\",\"gateway\":\"gw-2.a_b\",\"seq\":7,\"stream\":\"sensor/gps0\",\"kind\":\"sensor_reading\","
            + "\"time\":\"2026-01-02T01:04:05.006Z\",\"time_source\":\"gps\",\"payload_base64\":\"bm90IGpzb24=\"}", bad);
        var next = Encoding.UTF8.GetString(RecordJson.Serialize("gw1", Record(8, at, "[1,2]")));
        Assert.StartsWith("{\"id\":\"gw1:8\",", next, StringComparison.Ordinal);
        Assert.EndsWith("\"payload\":[1,2]}", next, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_matches_the_custom_format_it_replaces_over_a_seeded_range()
    {
        var random = new Random(TestSeed.Pick(output, "times"));
        Span<byte> buffer = stackalloc byte[24];
        for (var i = 0; i < 20_000; i++)
        {
            var t = new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks), DateTimeKind.Utc);
            var expected = t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            Assert.Equal(expected, Encoding.ASCII.GetString(RecordJson.FormatTime(buffer, t)));
        }
    }

    [Fact]
    public void A_batch_still_holds_the_same_record_objects()
    {
        var at = new DateTimeOffset(2026, 11, 22, 2, 20, 30, 442, TimeSpan.Zero);
        var one = Encoding.UTF8.GetString(RecordJson.Serialize("gw1", Record(1, at, "{}")));
        var batch = Encoding.UTF8.GetString(RecordJson.SerializeBatch("gw1", [Record(1, at, "{}"), Record(2, at, "{}")]));
        Assert.StartsWith("{\"type\":\"batch\",\"gateway\":\"gw1\",\"records\":[" + one + ",", batch, StringComparison.Ordinal);
    }
}
