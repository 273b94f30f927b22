using System.Text;
using EdgeGateway.Drones.Tello;

namespace EdgeGateway.Drones.Tests;

public sealed class StateDatagramParserTests
{
    private static (StateParseResult, TelloState?) Parse(string text) => Parse(Encoding.ASCII.GetBytes(text));

    private static (StateParseResult, TelloState?) Parse(byte[] bytes)
    {
        var r = StateDatagramParser.TryParse(bytes, out var s);
        return (r, s);
    }

    [Fact]
    public void Sdk13_state_is_parsed_into_named_fields()
    {
        var (r, s) = Parse("pitch:0;roll:-1;yaw:0;vgx:0;vgy:0;vgz:0;templ:46;temph:49;tof:10;h:0;bat:100;baro:18.92;time:0;agx:-12.00;agy:16.00;agz:-993.00;\r\n");
        Assert.Equal(StateParseResult.Ok, r);
        Assert.Equal(-1, s!.RollDeg);
        Assert.Equal(46, s.TemperatureLowC);
        Assert.Equal(49, s.TemperatureHighC);
        Assert.Equal(10, s.TofCm);
        Assert.Equal(100, s.BatteryPercent);
        Assert.Equal(18.92, s.Barometer);
        Assert.Equal(-993.0, s.AccelZ);
        Assert.Null(s.MissionPadId);
        Assert.Null(s.MissionPadAttitude);
        Assert.Null(s.UnknownKeys);
        Assert.EndsWith("agz:-993.00;", s.Raw);
    }

    [Fact]
    public void Sdk20_state_with_comma_separated_mpry_is_parsed()
    {
        var (r, s) = Parse("mid:-1;x:0;y:0;z:0;mpry:0,0,0;pitch:0;roll:5;yaw:0;vgx:0;vgy:0;vgz:0;templ:44;temph:47;tof:10;h:0;bat:100;baro:17.84;time:0;agx:10.00;agy:-98.00;agz:-988.00;\r\n");
        Assert.Equal(StateParseResult.Ok, r);
        Assert.Equal(-1, s!.MissionPadId);
        Assert.Equal((0, 0, 0), s.MissionPadAttitude);
        Assert.Equal(5, s.RollDeg);
        Assert.Equal(-98.0, s.AccelY);
    }

    [Fact]
    public void Sdk30_state_with_sentinels_and_out_of_range_tof_is_parsed()
    {
        var (r, s) = Parse("mid:-2;x:-200;y:-200;z:-200;mpry:-1,-1,-1;pitch:0;roll:0;yaw:0;vgx:0;vgy:0;vgz:0;templ:66;temph:68;tof:6553;h:0;bat:5;baro:118.26;time:0;agx:7.00;agy:0.00;agz:-997.00;\r\n");
        Assert.Equal(StateParseResult.Ok, r);
        Assert.Equal(-2, s!.MissionPadId);
        Assert.Equal(-200, s.MissionPadX);
        Assert.Equal((-1, -1, -1), s.MissionPadAttitude);
        Assert.Equal(6553, s.TofCm);
        Assert.Equal(5, s.BatteryPercent);
    }

    [Fact]
    public void Unknown_keys_are_kept_and_missing_keys_stay_null()
    {
        var (r, s) = Parse("bat:50;h:30;newkey:abc;\r\n");
        Assert.Equal(StateParseResult.Ok, r);
        Assert.Equal(50, s!.BatteryPercent);
        Assert.Equal(30, s.HeightCm);
        Assert.Null(s.PitchDeg);
        Assert.Equal("abc", s.UnknownKeys!["newkey"]);
    }

    [Fact]
    public void Nul_padding_and_crlf_are_ignored()
    {
        var bytes = Encoding.ASCII.GetBytes("h:12;bat:80;\r\n\0\0\0");
        var (r, s) = Parse(bytes);
        Assert.Equal(StateParseResult.Ok, r);
        Assert.Equal(12, s!.HeightCm);
        Assert.Equal("h:12;bat:80;", s.Raw);
    }

    [Fact]
    public void Known_key_with_unreadable_value_is_kept_verbatim_not_guessed()
    {
        var (r, s) = Parse("h:abc;bat:80;");
        Assert.Equal(StateParseResult.Ok, r);
        Assert.Null(s!.HeightCm);
        Assert.Equal("abc", s.UnknownKeys!["h"]);
    }

    [Theory]
    [InlineData("", StateParseResult.Empty)]
    [InlineData("\r\n\0", StateParseResult.Empty)]
    [InlineData("pitch:0;roll:-1;yaw:0;vgx:0;vgy:0;vgz:0;templ:44;temph:47;tof:10;h:0;bat:10", StateParseResult.Truncated)]
    [InlineData("pitch:0;roll", StateParseResult.Truncated)]
    [InlineData("hello world;", StateParseResult.Truncated)]
    [InlineData("foo:1;bar:2;", StateParseResult.NoKnownKeys)]
    [InlineData("mpry:1,2;", StateParseResult.NoKnownKeys)]
    public void Garbage_state_is_rejected_with_a_reason(string text, StateParseResult expected)
    {
        var (r, s) = Parse(text);
        Assert.Equal(expected, r);
        Assert.Null(s);
    }

    [Fact]
    public void Binary_datagram_is_rejected_as_binary()
    {
        var (r, s) = Parse([0xCC, 0x58, 0x00, 0x7C, 0x68, 0x54, 0x00, 0xE4, 0x01, 0xC2, 0x16]);
        Assert.Equal(StateParseResult.Binary, r);
        Assert.Null(s);
    }

    [Fact]
    public void Datagram_of_64_KiB_is_rejected_as_oversize()
    {
        var big = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("h:1;", 65_000 / 4)));
        var (r, _) = Parse(big);
        Assert.Equal(StateParseResult.Oversize, r);
    }

    [Fact]
    public void State_json_uses_snake_case_names_with_units_and_keeps_raw()
    {
        StateDatagramParser.TryParse(Encoding.ASCII.GetBytes("mid:-1;x:0;y:0;z:0;mpry:1,2,3;h:150;tof:87;bat:55;baro:1.5;agz:-999.00;odd:1;\r\n"), out var s);
        var json = System.Text.Json.JsonDocument.Parse(StateJson.Serialize(s!)).RootElement;
        Assert.Equal(150, json.GetProperty("height_cm").GetInt32());
        Assert.Equal(87, json.GetProperty("tof_cm").GetInt32());
        Assert.Equal(55, json.GetProperty("battery_percent").GetInt32());
        Assert.Equal(3, json.GetProperty("mission_pad_yaw_deg").GetInt32());
        Assert.Equal(-999.0, json.GetProperty("accel_z_mg").GetDouble());
        Assert.Equal("1", json.GetProperty("unknown").GetProperty("odd").GetString());
        Assert.StartsWith("mid:-1;", json.GetProperty("raw").GetString());
        Assert.False(json.TryGetProperty("pitch_deg", out _)); // missing keys are omitted, not zero
    }
}

public sealed class ReplyParserTests
{
    [Theory]
    [InlineData("ok", ReplyClass.Ok)]
    [InlineData("OK", ReplyClass.Ok)]
    [InlineData("Ok", ReplyClass.Ok)]
    [InlineData("OK,drone will reboot in 3s", ReplyClass.Ok)]
    [InlineData("error", ReplyClass.Error)]
    [InlineData("error Not joystick", ReplyClass.Error)]
    [InlineData("error Motor stop", ReplyClass.Error)]
    [InlineData("out of range", ReplyClass.Error)]
    [InlineData("Out of Range", ReplyClass.Error)]
    [InlineData("forced stop", ReplyClass.Error)]
    [InlineData("FALSE", ReplyClass.Error)]
    [InlineData("Error. Not valid marker", ReplyClass.Error)]
    [InlineData("unknown command: keepalive", ReplyClass.UnknownCommand)]
    [InlineData("Unkown Command!", ReplyClass.UnknownCommand)]
    [InlineData("87", ReplyClass.Value)]
    [InlineData("15dm", ReplyClass.Value)]
    [InlineData("0TQDG7BEDB0E9P", ReplyClass.Value)]
    [InlineData("pitch:0;roll:-1;yaw:0;", ReplyClass.Value)]
    [InlineData("okay then", ReplyClass.Other)]
    public void Replies_are_classified(string reply, ReplyClass expected) => Assert.Equal(expected, ReplyParser.Classify(reply));

    public static TheoryData<TelloRead, string, string, double> Reads => new()
    {
        { TelloRead.Height, "15dm", "height_cm", 150 },
        { TelloRead.Height, "0dm", "height_cm", 0 },
        { TelloRead.Tof, "875mm", "tof_cm", 87.5 },
        { TelloRead.Time, "11s", "flight_time_s", 11 },
        { TelloRead.Temperature, "85~88C", "temperature_low_c", 85 },
        { TelloRead.Temperature, "85~88C", "temperature_high_c", 88 },
        { TelloRead.Speed, "100.0", "speed_cm_s", 100 },
        { TelloRead.Battery, "87", "battery", 87 },
        { TelloRead.Battery, "63\r\n", "battery", 63 },
        { TelloRead.Wifi, "90", "wifi_snr", 90 },
        { TelloRead.Sdk, "30", "sdk_version", 30 },
        { TelloRead.Barometer, "-102.865509", "barometer_m", -102.865509 },
        { TelloRead.Attitude, "pitch:0;roll:-1;yaw:0;", "roll_deg", -1 },
        { TelloRead.Attitude, "pitch:3;roll:-1;yaw:7;", "yaw_deg", 7 },
        { TelloRead.Acceleration, "agx:-5.00;agy:7.00;agz:-999.00;", "accel_z_mg", -999 },
        { TelloRead.Acceleration, "agx:-5.00;agy:7.00;agz:-999.00;", "accel_x_mg", -5 },
    };

    [Theory]
    [MemberData(nameof(Reads))]
    public void Read_replies_in_raw_formats_become_named_values(TelloRead read, string reply, string key, double expected)
    {
        Assert.True(ReplyParser.TryParseRead(read, reply, out var values));
        Assert.Equal(expected, values![key], 6);
    }

    [Theory]
    [InlineData(TelloRead.Battery, "ok")]
    [InlineData(TelloRead.Battery, "abc")]
    [InlineData(TelloRead.Battery, "250")]
    [InlineData(TelloRead.Height, "dm")]
    [InlineData(TelloRead.Temperature, "85~C")]
    [InlineData(TelloRead.Attitude, "pitch:0;roll:-1;")]
    [InlineData(TelloRead.Acceleration, "agx:x;agy:7.00;agz:-999.00;")]
    [InlineData(TelloRead.SerialNumber, "ok")]
    public void Garbage_read_replies_are_not_values(TelloRead read, string reply) =>
        Assert.False(ReplyParser.TryParseRead(read, reply, out _));

    [Fact]
    public void Ok_to_a_read_is_a_mismatch_not_a_value()
    {
        Assert.Equal(ReplyMatch.Mismatch, ReplyParser.Match(TelloCommand.ReadOf(TelloRead.Battery), "ok", out var values));
        Assert.Null(values);
    }

    [Fact]
    public void Value_to_a_control_command_is_a_mismatch()
    {
        Assert.Equal(ReplyMatch.Mismatch, ReplyParser.Match(TelloCommand.Takeoff, "87", out _));
        Assert.Equal(ReplyMatch.Mismatch, ReplyParser.Match(TelloCommand.Land, "0TQDG7BEDB0E9P", out _));
    }

    [Fact]
    public void Unknown_command_naming_another_command_is_a_mismatch_but_naming_this_one_is_a_failure()
    {
        Assert.Equal(ReplyMatch.Mismatch, ReplyParser.Match(TelloCommand.Takeoff, "unknown command: sn?", out _));
        Assert.Equal(ReplyMatch.Failure, ReplyParser.Match(TelloCommand.Keepalive, "unknown command: keepalive", out _));
        Assert.Equal(ReplyMatch.Failure, ReplyParser.Match(TelloCommand.Keepalive, "Unkown Command!", out _));
    }

    [Theory]
    [InlineData("ok", ReplyMatch.Success)]
    [InlineData("OK", ReplyMatch.Success)]
    [InlineData("error Not joystick", ReplyMatch.Failure)]
    [InlineData("out of range", ReplyMatch.Failure)]
    [InlineData("something new", ReplyMatch.Failure)]
    public void Control_replies_other_than_ok_are_failures(string reply, ReplyMatch expected) =>
        Assert.Equal(expected, ReplyParser.Match(TelloCommand.Land, reply, out _));

    [Fact]
    public void Serial_number_check_wants_fourteen_upper_case_alphanumerics()
    {
        Assert.True(ReplyParser.IsSerialNumber("0TQDG7BEDB0E9P"));
        Assert.True(ReplyParser.IsSerialNumber("0TQDG7BEDB0E9P\r\n"));
        Assert.False(ReplyParser.IsSerialNumber("ok"));
        Assert.False(ReplyParser.IsSerialNumber("87"));
        Assert.False(ReplyParser.IsSerialNumber("0TQDG7BEDB0E9"));
    }
}

/// <summary>Allocation budgets for the parsers (bytes, not time: stable under CPU load).</summary>
public sealed class ParserAllocationTests
{
    private const string Sdk20 = "mid:-1;x:0;y:0;z:0;mpry:0,0,0;pitch:0;roll:5;yaw:0;vgx:0;vgy:0;vgz:0;templ:44;temph:47;tof:10;h:0;bat:100;baro:17.84;time:0;agx:10.00;agy:-98.00;agz:-988.00;\r\n";

    private static double BytesPerCall(Action op, int calls = 1000)
    {
        for (var i = 0; i < 200; i++)
        {
            op(); // JIT and first-call caches out of the measurement
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            op();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)calls;
    }

    [Fact]
    public void Parsing_an_sdk20_state_datagram_allocates_under_1000_bytes()
    {
        var bytes = Encoding.ASCII.GetBytes(Sdk20);
        TelloState? last = null;
        var perParse = BytesPerCall(() => StateDatagramParser.TryParse(bytes, out last));

        Assert.Equal(100, last!.BatteryPercent);
        Assert.Equal(-988.0, last.AccelZ);
        // The raw string (~340 B) plus one record (~250 B); the old per-field record copies cost 8 KB.
        Assert.True(perParse < 1000, $"{perParse:0} B per parse");
    }

    [Fact]
    public void Parsing_a_datagram_with_unknown_keys_stays_within_budget()
    {
        var bytes = Encoding.ASCII.GetBytes("h:12;bat:80;newkey:abc;\r\n");
        TelloState? last = null;
        var perParse = BytesPerCall(() => StateDatagramParser.TryParse(bytes, out last));

        Assert.Equal("abc", last!.UnknownKeys!["newkey"]);
        Assert.True(perParse < 1000, $"{perParse:0} B per parse");
    }

    [Fact]
    public void Matching_replies_allocates_nothing_for_ok_and_only_the_values_for_reads()
    {
        var ok = BytesPerCall(() => ReplyParser.Match(TelloCommand.Takeoff, "ok", out _));
        var battery = TelloCommand.ReadOf(TelloRead.Battery);
        var read = BytesPerCall(() => ReplyParser.Match(battery, "87", out _));
        var attitude = TelloCommand.ReadOf(TelloRead.Attitude);
        IReadOnlyDictionary<string, double>? values = null;
        var pairs = BytesPerCall(() => ReplyParser.Match(attitude, "pitch:0;roll:-1;yaw:0;", out values));

        Assert.Equal(-1, values!["roll_deg"]);
        Assert.True(ok < 1, $"{ok:0} B per ok");
        Assert.True(read < 300, $"{read:0} B per battery read");
        Assert.True(pairs < 400, $"{pairs:0} B per attitude read");
    }
}
