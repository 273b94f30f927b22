using System.Text;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Framing;
using EdgeGateway.Sensors.Lines;
using EdgeGateway.Sensors.Tfmini;
using EdgeGateway.Simulator.Serial;

namespace EdgeGateway.Sensors.Tests;

internal sealed class LineCollector : ILineHandler
{
    public List<string> Lines { get; } = [];

    public List<LineDropReason> Dropped { get; } = [];

    public void OnLine(ReadOnlySpan<byte> line) => Lines.Add(Encoding.UTF8.GetString(line));

    public void OnDropped(LineDropReason reason) => Dropped.Add(reason);
}

public class LineFramerTests
{
    [Fact]
    public void Lines_split_across_chunks_and_mixed_terminators_are_reassembled()
    {
        var framer = new LineFramer(64, asciiOnly: true);
        var c = new LineCollector();
        framer.Push("ab"u8, c);
        framer.Push("c\r\nde"u8, c);
        framer.Push("f\nghi\r\r\n\n"u8, c);
        Assert.Equal(["abc", "def", "ghi"], c.Lines);
        Assert.Empty(c.Dropped);
    }

    [Fact]
    public void Over_long_line_is_dropped_once_and_the_next_line_survives()
    {
        var framer = new LineFramer(10, asciiOnly: true);
        var c = new LineCollector();
        framer.Push(Encoding.ASCII.GetBytes(new string('x', 500) + "\nok\n"), c);
        Assert.Equal(["ok"], c.Lines);
        Assert.Equal([LineDropReason.TooLong], c.Dropped);
        Assert.Equal(1, framer.TooLong);
    }

    [Fact]
    public void Binary_garbage_line_is_dropped_and_counted()
    {
        var framer = new LineFramer(64, asciiOnly: true);
        var c = new LineCollector();
        framer.Push([0x41, 0x00, 0xFF, 0x42, (byte)'\n', (byte)'h', (byte)'i', (byte)'\n'], c);
        Assert.Equal(["hi"], c.Lines);
        Assert.Equal([LineDropReason.BinaryGarbage], c.Dropped);
        Assert.Equal(1, framer.BinaryGarbage);
    }

    [Fact]
    public void Utf8_passes_when_allowed_but_invalid_utf8_does_not()
    {
        var framer = new LineFramer(64, asciiOnly: false);
        var c = new LineCollector();
        framer.Push("t=21.5°C\n"u8, c);
        framer.Push([0x61, 0xC3, 0x28, (byte)'\n'], c);
        Assert.Equal(["t=21.5°C"], c.Lines);
        Assert.Equal([LineDropReason.BinaryGarbage], c.Dropped);
    }

    [Fact]
    public void Sync_byte_restarts_a_line_so_a_truncated_sentence_does_not_swallow_the_next()
    {
        var framer = new LineFramer(82, asciiOnly: true, syncByte: (byte)'$');
        var c = new LineCollector();
        framer.Push("$GPGGA,1235$GPVTG,1*00\r\n"u8, c);
        Assert.Equal(["$GPVTG,1*00"], c.Lines);
        Assert.Equal([LineDropReason.Truncated], c.Dropped);
    }

    [Fact]
    public void Endless_garbage_without_terminator_is_counted_and_bounded()
    {
        var framer = new LineFramer(80, asciiOnly: true, syncByte: (byte)'$');
        var c = new LineCollector();
        var garbage = new byte[100_000];
        new Random(5).NextBytes(garbage);
        for (var i = 0; i < garbage.Length; i++)
        {
            if (garbage[i] is (byte)'$' or (byte)'\n' or (byte)'\r')
            {
                garbage[i] = 0xFE;
            }
        }

        framer.Push(garbage, c);
        framer.Push("\n$GPVTG,ok*00\n"u8, c);
        Assert.Equal(["$GPVTG,ok*00"], c.Lines);
        Assert.Single(c.Dropped);
    }
}

public class LineSensorParserTests
{
    private static (LineParseResult, List<SensorValue>) Parse(LineSensorParser p, string line)
    {
        var values = new List<SensorValue>();
        return (p.Parse(Encoding.UTF8.GetBytes(line), values), values);
    }

    [Fact]
    public void Json_without_fields_takes_every_top_level_value_in_snake_case()
    {
        var (r, v) = Parse(new LineSensorParser(LineFormat.Json), """{"Temperature":21.5,"pm2.5":8,"status":"ok","heater":true,"nested":{"a":1}}""");
        Assert.Equal(LineParseResult.Ok, r);
        Assert.Equal([new("temperature", 21.5, null), new("pm2_5", 8, null), new("status", null, "ok"), new("heater", 1, null)], v);
    }

    [Fact]
    public void Json_with_fields_applies_units_and_requires_them()
    {
        var p = new LineSensorParser(LineFormat.Json, [new("temp", "°C"), new("rh", "%")]);
        var (r, v) = Parse(p, """{"temp":"21.5 °C","rh":40,"other":1}""");
        Assert.Equal(LineParseResult.Ok, r);
        Assert.Equal([new("temp_c", 21.5, null), new("rh_pct", 40, null)], v);
        Assert.Equal(LineParseResult.MissingField, Parse(p, """{"temp":21.5}""").Item1);
        Assert.Equal(LineParseResult.WrongUnit, Parse(p, """{"temp":"70F","rh":40}""").Item1);
        Assert.Equal(LineParseResult.InvalidNumber, Parse(p, """{"temp":"warm","rh":40}""").Item1);
        Assert.Equal(LineParseResult.InvalidNumber, Parse(p, """{"temp":null,"rh":40}""").Item1);
    }

    // Found by fuzzing (issue 11): 1e400 came back as infinity, and a lone surrogate escape threw InvalidOperationException.
    [Theory]
    [InlineData("""{"temperature":1e400}""", LineParseResult.InvalidNumber)]
    [InlineData("""{"temperature":-1e400}""", LineParseResult.InvalidNumber)]
    [InlineData("""{"\ud800":1}""", LineParseResult.InvalidJson)]
    [InlineData("""{"status":"\udc00"}""", LineParseResult.InvalidJson)]
    public void Json_numbers_beyond_double_and_strings_that_are_not_text_are_rejected(string line, LineParseResult expected)
    {
        var (r, v) = Parse(new LineSensorParser(LineFormat.Json), line);
        Assert.Equal(expected, r);
        Assert.Empty(v);
    }

    [Fact]
    public void Json_huge_number_in_a_key_that_is_not_configured_is_ignored()
    {
        var p = new LineSensorParser(LineFormat.Json, [new("temp", "°C")]);
        var (r, v) = Parse(p, """{"temp":21.5,"other":1e400}""");
        Assert.Equal(LineParseResult.Ok, r);
        Assert.Equal([new("temp_c", 21.5, null)], v);
        Assert.Equal(LineParseResult.InvalidNumber, Parse(p, """{"temp":1e400}""").Item1);
    }

    [Theory]
    [InlineData("{\"a\":1", LineParseResult.InvalidJson)]
    [InlineData("{\"a\":1}{\"b\":2}", LineParseResult.InvalidJson)]
    [InlineData("not json", LineParseResult.InvalidJson)]
    [InlineData("[1,2,3]", LineParseResult.NotJsonObject)]
    [InlineData("42", LineParseResult.NotJsonObject)]
    [InlineData("{}", LineParseResult.NoValues)]
    [InlineData("   ", LineParseResult.Empty)]
    public void Bad_json_lines_are_rejected(string line, LineParseResult expected)
    {
        Assert.Equal(expected, Parse(new LineSensorParser(LineFormat.Json), line).Item1);
    }

    [Fact]
    public void Key_value_pairs_with_units_and_mixed_separators()
    {
        var p = new LineSensorParser(LineFormat.KeyValue, [new("temperature", "C"), new("humidity", "%"), new("pressure", "hPa"), new("pm2_5")]);
        var (r, v) = Parse(p, "temperature=21.43C humidity=40.2%;pressure=1013.2hPa, pm2_5=8 extra=1");
        Assert.Equal(LineParseResult.Ok, r);
        Assert.Equal([new("temperature_c", 21.43, null), new("humidity_pct", 40.2, null), new("pressure_hpa", 1013.2, null), new("pm2_5", 8, null)], v);
    }

    [Theory]
    [InlineData("temperature=21.4C humidity", LineParseResult.MalformedPair)]
    [InlineData("=5 temperature=1", LineParseResult.MalformedPair)]
    [InlineData("temp erature=1", LineParseResult.MalformedPair)]
    [InlineData("temperature=21.4K humidity=40", LineParseResult.WrongUnit)]
    [InlineData("temperature=hot humidity=40", LineParseResult.InvalidNumber)]
    [InlineData("humidity=40", LineParseResult.MissingField)]
    public void Bad_key_value_lines_are_rejected(string line, LineParseResult expected)
    {
        var p = new LineSensorParser(LineFormat.KeyValue, [new("temperature", "C"), new("humidity", "%")]);
        Assert.Equal(expected, Parse(p, line).Item1);
    }

    [Fact]
    public void Key_value_without_fields_keeps_unparsable_values_as_text()
    {
        var (r, v) = Parse(new LineSensorParser(LineFormat.KeyValue), "mode=auto count=3");
        Assert.Equal(LineParseResult.Ok, r);
        Assert.Equal([new("mode", null, "auto"), new("count", 3, null)], v);
    }

    [Fact]
    public void Csv_maps_named_columns_in_order()
    {
        var p = new LineSensorParser(LineFormat.Csv, [new("co2", "ppm"), new("temperature", "°C"), new("label", Text: true)], ';');
        var (r, v) = Parse(p, "412 ppm; 21.5°C ;kitchen");
        Assert.Equal(LineParseResult.Ok, r);
        Assert.Equal([new("co2_ppm", 412, null), new("temperature_c", 21.5, null), new("label", null, "kitchen")], v);
        var (r2, v2) = Parse(p, ";21.5;x");
        Assert.Equal(LineParseResult.Ok, r2);
        Assert.Equal(2, v2.Count); // an empty column is "not measured"
    }

    [Theory]
    [InlineData("412;21.5", LineParseResult.ColumnCountMismatch)]
    [InlineData("412;21.5;x;y", LineParseResult.ColumnCountMismatch)]
    [InlineData("abc;21.5;x", LineParseResult.InvalidNumber)]
    [InlineData("412 ppb;21.5;x", LineParseResult.WrongUnit)]
    [InlineData("1e999;21.5;x", LineParseResult.InvalidNumber)]
    public void Bad_csv_lines_are_rejected(string line, LineParseResult expected)
    {
        var p = new LineSensorParser(LineFormat.Csv, [new("co2", "ppm"), new("temperature", "°C"), new("label", Text: true)], ';');
        Assert.Equal(expected, Parse(p, line).Item1);
    }

    [Theory]
    [InlineData("Temperature", "°C", "temperature_c")]
    [InlineData("relHumidity", "%", "rel_humidity_pct")]
    [InlineData("pm2.5", "µg/m3", "pm2_5_g_m3")]
    [InlineData("pressure", "hPa", "pressure_hpa")]
    [InlineData("co2", null, "co2")]
    public void Output_keys_are_snake_case_with_a_unit_suffix(string name, string? unit, string expected)
    {
        Assert.Equal(expected, LineSensorParser.OutputKeyFor(name, unit));
    }
}

internal sealed class FrameCollector : ITfminiFrameHandler
{
    public List<TfminiFrame> Frames { get; } = [];

    public int BadChecksums { get; private set; }

    public void OnFrame(in TfminiFrame frame) => Frames.Add(frame);

    public void OnBadChecksum() => BadChecksums++;
}

public class TfminiFrameDecoderTests
{
    [Fact]
    public void Frame_gives_distance_strength_and_temperature()
    {
        var d = new TfminiFrameDecoder();
        var c = new FrameCollector();
        d.Push(SimulatedTfmini.Encode(123, 2200, 38.0), c);
        var f = Assert.Single(c.Frames);
        Assert.Equal(123, f.DistanceCm);
        Assert.Equal(2200, f.Strength);
        Assert.Equal(38.0, f.TemperatureC);
        Assert.True(f.IsReliable);
    }

    [Fact]
    public void Original_tfmini_has_no_temperature()
    {
        var d = new TfminiFrameDecoder(TfminiModel.Tfmini);
        var c = new FrameCollector();
        d.Push(SimulatedTfmini.Encode(50, 40, 0), c);
        Assert.Null(Assert.Single(c.Frames).TemperatureC);
        Assert.False(c.Frames[0].IsReliable); // strength below 100
    }

    [Fact]
    public void Bad_checksum_is_counted_and_the_next_frame_still_decodes()
    {
        var bad = SimulatedTfmini.Encode(200, 1000, 30);
        bad[8] ^= 0x55;
        var d = new TfminiFrameDecoder();
        var c = new FrameCollector();
        d.Push([.. bad, .. SimulatedTfmini.Encode(201, 1000, 30)], c);
        Assert.Equal(1, c.BadChecksums);
        Assert.Equal(201, Assert.Single(c.Frames).DistanceCm);
    }

    [Fact]
    public void Starting_in_the_middle_of_a_frame_resynchronises_on_the_next_header()
    {
        var a = SimulatedTfmini.Encode(300, 1000, 30);
        var b = SimulatedTfmini.Encode(301, 1000, 30);
        var d = new TfminiFrameDecoder();
        var c = new FrameCollector();
        d.Push(a.AsSpan(4), c); // the tail of a frame
        d.Push(b, c);
        Assert.Equal(301, Assert.Single(c.Frames).DistanceCm);
        Assert.Equal(0, c.BadChecksums);
    }

    [Fact]
    public void A_lost_byte_inside_a_frame_costs_that_frame_only()
    {
        var a = SimulatedTfmini.Encode(0x59 | (0x59 << 8), 0x5959, 30); // payload full of header bytes
        var damaged = a.Where((_, i) => i != 5).ToArray();
        var frames = new List<byte>(damaged);
        for (var i = 0; i < 3; i++)
        {
            frames.AddRange(SimulatedTfmini.Encode(400 + i, 1000, 30));
        }

        var d = new TfminiFrameDecoder();
        var c = new FrameCollector();
        foreach (var chunk in frames.Chunk(4))
        {
            d.Push(chunk, c); // split across reads at awkward places
        }

        Assert.Equal([400, 401, 402], c.Frames.Select(f => f.DistanceCm));
        Assert.True(c.BadChecksums >= 1);
    }

    [Fact]
    public void Random_bytes_never_throw_and_good_frames_after_them_decode()
    {
        var noise = new byte[10_000];
        new Random(9).NextBytes(noise);
        var d = new TfminiFrameDecoder();
        var c = new FrameCollector();
        d.Push(noise, c);
        var before = c.Frames.Count;
        for (var i = 0; i < 5; i++)
        {
            d.Push(SimulatedTfmini.Encode(500 + i, 1000, 30), c);
        }

        Assert.Contains(c.Frames.Skip(before), f => f.DistanceCm == 504);
        Assert.True(c.Frames.Skip(before).Count(f => f.DistanceCm >= 500) >= 4);
    }
}

/// <summary>A thread-safe sink for driver tests.</summary>
internal sealed class CollectingSink : ISensorSink
{
    private readonly Lock _gate = new();
    private readonly List<SensorReading> _readings = [];
    private readonly List<string> _rejected = [];
    private readonly List<string> _ignored = [];

    public IReadOnlyList<SensorReading> Readings
    {
        get
        {
            lock (_gate)
            {
                return [.. _readings];
            }
        }
    }

    public IReadOnlyList<string> Rejected
    {
        get
        {
            lock (_gate)
            {
                return [.. _rejected];
            }
        }
    }

    public IReadOnlyList<string> Ignored
    {
        get
        {
            lock (_gate)
            {
                return [.. _ignored];
            }
        }
    }

    public void OnReading(SensorReading reading)
    {
        lock (_gate)
        {
            _readings.Add(reading);
        }
    }

    public void OnRejected(string reason)
    {
        lock (_gate)
        {
            _rejected.Add(reason);
        }
    }

    public void OnIgnored(string reason)
    {
        lock (_gate)
        {
            _ignored.Add(reason);
        }
    }
}
