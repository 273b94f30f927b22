using System.Runtime.InteropServices;
using System.Text;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Nmea;
using EdgeGateway.Sensors.Serial;
using EdgeGateway.Simulator.Serial;

namespace EdgeGateway.Sensors.Tests;

/// <summary>The serial layer on real pseudo-terminals.</summary>
public partial class SerialPortTests(Xunit.Abstractions.ITestOutputHelper output)
{
    internal static string LogPath => Path.Combine(AppContext.BaseDirectory, "TestData", "flight.nmea");

    internal static SerialPortStream OpenOrFail(string path, SerialSettings? settings = null)
    {
        var port = SerialPortStream.TryOpen(path, settings ?? new SerialSettings(9600), out var failure);
        Assert.True(port is not null, failure?.Message);
        return port;
    }

    private static async Task<(CollectingSink Sink, Task Run, CancellationTokenSource Stop)> RunDriver(Stream port, ISensorDriver driver)
    {
        var sink = new CollectingSink();
        var stop = new CancellationTokenSource();
        var run = Task.Run(() => driver.RunAsync(port, sink, stop.Token));
        await Task.Yield();
        return (sink, run, stop);
    }

    [Fact]
    public async Task Clean_nmea_stream_through_a_pty_gives_correct_positions()
    {
        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath);
        var (sink, run, stop) = await RunDriver(port, new NmeaGpsDriver());
        pty.Write(File.ReadAllBytes(LogPath));

        // The GLL closing the last epoch arrives after its reading: wait for both counts.
        await TaskTimeouts.Eventually(() => sink.Readings.Count >= 12 && sink.Ignored.Count >= 12, "12 epochs decoded and 12 GLL ignored");
        var fixes = sink.Readings.Cast<GpsReading>().Select(r => r.Fix).ToList();
        Assert.Equal(12, fixes.Count);
        Assert.All(fixes, f => Assert.True(f.HasFix && f.TimeValid));
        Assert.Equal(47 + (23.86452 / 60), fixes[0].LatitudeDeg!.Value, 9);
        Assert.Equal(8 + (32.73564 / 60), fixes[0].LongitudeDeg!.Value, 9);
        Assert.Equal(488.0, fixes[0].AltitudeMslM);
        Assert.Equal(493.5, fixes[11].AltitudeMslM);
        Assert.Equal(new DateTimeOffset(2024, 5, 14, 10, 15, 11, TimeSpan.Zero), fixes[11].UtcTime);
        Assert.Equal(5.0, fixes[5].SpeedMps!.Value, 2);
        Assert.Equal(53.13, fixes[5].CourseDeg);
        Assert.Equal(8, fixes[5].SatellitesUsed);
        Assert.Equal(10, fixes[5].SatellitesInView);
        Assert.Equal(GpsFixMode.Fix3D, fixes[5].FixMode);
        // Northwards and eastwards, 3 m and 4 m a second.
        Assert.Equal(3.0 * 11, (fixes[11].LatitudeDeg!.Value - fixes[0].LatitudeDeg!.Value) * Math.PI / 180 * 6378137, 1);
        Assert.Empty(sink.Rejected);
        Assert.Equal(12, sink.Ignored.Count); // GLL: valid, not used
        Assert.False(run.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WithTimeout());
    }

    /// <summary>What a UART set to <paramref name="readBaud"/> makes of bytes sent at <paramref name="sentBaud"/> (8N1).</summary>
    internal static byte[] AtWrongBaudRate(byte[] sent, int sentBaud, int readBaud)
    {
        // The line level, one sample per 1/16 of the reader's bit time.
        const int oversample = 16;
        var samplesPerSentBit = (double)readBaud / sentBaud * oversample;
        var levels = new List<bool>();
        void Bits(bool level, int count)
        {
            var from = levels.Count;
            var target = (int)Math.Round((from / samplesPerSentBit + count) * samplesPerSentBit);
            while (levels.Count < target)
            {
                levels.Add(level);
            }
        }

        foreach (var b in sent)
        {
            Bits(false, 1);
            for (var i = 0; i < 8; i++)
            {
                Bits(((b >> i) & 1) == 1, 1);
            }

            Bits(true, 1);
        }

        Bits(true, 20);
        var received = new List<byte>();
        var t = 0;
        while (t < levels.Count - (10 * oversample))
        {
            if (levels[t])
            {
                t++;
                continue; // idle, wait for a start bit
            }

            var value = 0;
            for (var i = 0; i < 8; i++)
            {
                var sampleAt = t + (oversample * 3 / 2) + (i * oversample);
                if (levels[sampleAt])
                {
                    value |= 1 << i;
                }
            }

            received.Add((byte)value); // a framing error still delivers a byte (often 0x00) by default
            t += 10 * oversample - (oversample / 2);
        }

        return [.. received];
    }

    [Fact]
    public async Task Bad_input_is_rejected_and_counted_and_good_sentences_around_it_still_parse()
    {
        var log = File.ReadAllText(LogPath).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l + "\r\n").ToList();
        var good = log.Take(8).ToList();       // epoch 0
        var later = log.Skip(8).ToList();      // epochs 1..11
        var noise = new byte[300];
        new Random(42).NextBytes(noise);
        // A well-formed GGA whose checksum is off by one bit pattern: only the hex is wrong.
        var ggaBody = log[10][1..log[10].IndexOf('*', StringComparison.Ordinal)];
        var rightSum = NmeaParser.Checksum(Encoding.ASCII.GetBytes(ggaBody));
        var badChecksum = $"${ggaBody}*{rightSum ^ 0x5A:X2}\r\n";
        Assert.StartsWith("$GPGGA,", badChecksum, StringComparison.Ordinal);
        Assert.Equal(NmeaParseResult.Ok, NmeaParser.Parse(Encoding.ASCII.GetBytes($"${ggaBody}*{rightSum:X2}"), out _));
        Assert.Equal(NmeaParseResult.ChecksumMismatch, NmeaParser.Parse(Encoding.ASCII.GetBytes(badChecksum.TrimEnd()), out _));

        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath);
        var (sink, run, stop) = await RunDriver(port, new NmeaGpsDriver());
        foreach (var s in good)
        {
            pty.Write(s);
        }

        pty.Write(badChecksum);
        pty.Write("$GPRMC,101501.00,A,4723.8");                         // truncated: cut off by the next '$'
        pty.Write("$GPGGA,101501.00,4723.86614,N\r\n");               // truncated: ends without a checksum
        pty.Write("$GPTXT," + new string('X', 300) + "*00\r\n");       // over-long
        pty.Write(noise);                                              // binary garbage
        pty.Write("\r\n");
        pty.Write(AtWrongBaudRate(Encoding.ASCII.GetBytes(string.Concat(log.Skip(16).Take(8))), 4800, 9600)); // receiver at 4800, port at 9600
        pty.Write(AtWrongBaudRate(Encoding.ASCII.GetBytes(string.Concat(log.Skip(24).Take(8))), 38400, 9600));
        pty.Write("\r\n");
        foreach (var s in later)
        {
            pty.Write(s);
        }

        await TaskTimeouts.Eventually(() => sink.Readings.Count >= 12, "all 12 good epochs decoded despite the garbage");
        var rejected = sink.Rejected;
        output.WriteLine(string.Join(", ", rejected));
        Assert.Equal("checksum_mismatch", rejected[0]); // the wrong-checksum GGA is the first bad line sent
        Assert.Single(rejected, r => r == "checksum_mismatch");
        Assert.Contains("truncated", rejected);
        Assert.Contains("missing_checksum", rejected);
        Assert.Contains("line_too_long", rejected);
        Assert.Contains("binary_garbage", rejected);
        Assert.True(rejected.Count >= 6, string.Join(", ", rejected));
        var times = sink.Readings.Cast<GpsReading>().Select(r => r.Fix.UtcTime!.Value.Second).ToList();
        Assert.Equal(Enumerable.Range(0, 12), times);
        Assert.False(run.IsCompleted, "the driver must survive any input");
        await stop.CancelAsync();
    }

    [Fact]
    public void Wrong_baud_rate_emulation_really_garbles_the_text()
    {
        var text = Encoding.ASCII.GetBytes("$GPGGA,101500.00,4723.86452,N,00832.73564,E,1,08*5A\r\n");
        var garbled = AtWrongBaudRate(text, 4800, 9600);
        Assert.NotEqual(text, garbled);
        Assert.Equal(text, AtWrongBaudRate(text, 9600, 9600)); // the emulation itself is faithful at the right rate
        Assert.DoesNotContain((byte)'$', garbled.Take(5));
    }

    [Fact]
    public async Task Line_sensor_on_a_pty_keeps_good_lines_and_counts_bad_ones()
    {
        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath, new SerialSettings(115200));
        var parser = new Lines.LineSensorParser(Lines.LineFormat.Csv, [new("temperature", "C"), new("humidity", "%")]);
        var (sink, run, stop) = await RunDriver(port, new LineSensorDriver(parser, 64));
        pty.Write("21.5C,40%\r\nnot,a,row\r\n22.0,41\r\n" + new string('9', 200) + "\r\nabc,1\r\n");
        pty.Write([0x00, 0x01, 0xFF, (byte)'\n']);
        pty.Write("23.0 C, 42 %\n");
        await TaskTimeouts.Eventually(() => sink.Readings.Count >= 3 && sink.Rejected.Count >= 4, "3 good lines, 4 bad");
        Assert.Equal([21.5, 22.0, 23.0], sink.Readings.Cast<LineReading>().Select(r => r.Values[0].Number!.Value));
        Assert.Equal(["column_count_mismatch", "line_too_long", "invalid_number", "binary_garbage"], sink.Rejected);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Json_line_sensor_on_a_pty_keeps_good_lines_and_names_what_was_wrong_with_bad_ones()
    {
        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath, new SerialSettings(115200));
        var parser = new Lines.LineSensorParser(Lines.LineFormat.Json, [new("temp", "°C"), new("rh", "%")]);
        var (sink, run, stop) = await RunDriver(port, new LineSensorDriver(parser, 96));
        pty.Write("{\"temp\":21.5,\"rh\":\"40 %\"}\r\n");                   // good
        pty.Write("{\"temp\":21.5,\"rh\":40\r\n");                          // cut off: invalid JSON
        pty.Write("[21.5,40]\n");                                          // JSON, not an object
        pty.Write("{\"rh\":41}\n");                                        // a configured field is missing
        pty.Write("{\"temp\":\"70 F\",\"rh\":40}\n");                        // the wrong unit
        pty.Write("{\"temp\":true,\"rh\":40}\n");                            // not a number
        pty.Write("{\"temp\":21.5,\"rh\":40,\"note\":\"" + new string('x', 200) + "\"}\n"); // over MaxLineLength
        pty.Write([(byte)'{', 0xC3, 0x28, (byte)'}', (byte)'\n']);           // invalid UTF-8
        pty.Write("{\"temp\":22.0,\"rh\":41,\"fan\":\"on\"}\n");              // good; an unconfigured key is left out
        pty.Write(Encoding.UTF8.GetBytes("{\"temp\":\"23.5°C\",\"rh\":\"42%\"}\n")); // good; a UTF-8 unit after the number
        await TaskTimeouts.Eventually(() => sink.Readings.Count >= 3 && sink.Rejected.Count >= 7,
            () => $"3 good lines, 7 bad; got {sink.Readings.Count} readings, rejected [{string.Join(", ", sink.Rejected)}]");
        var readings = sink.Readings.Cast<LineReading>().ToList();
        Assert.Equal([21.5, 22.0, 23.5], readings.Select(r => r.Values.Single(v => v.Key == "temp_c").Number!.Value));
        Assert.Equal([40.0, 41.0, 42.0], readings.Select(r => r.Values.Single(v => v.Key == "rh_pct").Number!.Value));
        Assert.All(readings, r => Assert.Equal(2, r.Values.Count));
        Assert.Equal(["invalid_json", "not_json_object", "missing_field", "wrong_unit", "invalid_number", "line_too_long", "binary_garbage"],
            sink.Rejected);
        Assert.False(run.IsCompleted);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Key_value_line_sensor_on_a_pty_keeps_good_lines_and_names_what_was_wrong_with_bad_ones()
    {
        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath, new SerialSettings(57600));
        var parser = new Lines.LineSensorParser(Lines.LineFormat.KeyValue,
            [new("temperature", "C"), new("humidity", "%"), new("site", Text: true)]);
        var (sink, run, stop) = await RunDriver(port, new LineSensorDriver(parser, 80));
        pty.Write("temperature=21.5C humidity=40% site=roof\r\n");          // good, space-separated
        pty.Write("temperature=21.5 humidity site=roof\r\n");               // a token without '='
        pty.Write("=5 humidity=40 site=roof\n");                            // an empty key
        pty.Write("humidity=40 site=roof\n");                               // temperature missing
        pty.Write("temperature=warm humidity=40 site=roof\n");              // not a number
        pty.Write("temperature=70F humidity=40 site=roof\n");               // the wrong unit
        pty.Write("temperature=1 humidity=2 site=" + new string('r', 120) + "\n"); // over MaxLineLength
        pty.Write([(byte)'t', (byte)'=', 0xFF, 0xFE, (byte)'\n']);           // invalid UTF-8
        pty.Write("\r\n");                                                  // empty: skipped, not an error
        pty.Write("temperature=22;humidity=41%;site=mast;uptime=300\n");    // good, ';'-separated, unconfigured key ignored
        pty.Write("temperature=-3.5C,humidity=99,site=field\n");            // good, ','-separated; the unit is optional
        await TaskTimeouts.Eventually(() => sink.Readings.Count >= 3 && sink.Rejected.Count >= 7,
            () => $"3 good lines, 7 bad; got {sink.Readings.Count} readings, rejected [{string.Join(", ", sink.Rejected)}]");
        var readings = sink.Readings.Cast<LineReading>().ToList();
        Assert.Equal([21.5, 22.0, -3.5], readings.Select(r => r.Values.Single(v => v.Key == "temperature_c").Number!.Value));
        Assert.Equal([40.0, 41.0, 99.0], readings.Select(r => r.Values.Single(v => v.Key == "humidity_pct").Number!.Value));
        Assert.Equal(["roof", "mast", "field"], readings.Select(r => r.Values.Single(v => v.Key == "site").Text));
        Assert.All(readings, r => Assert.Equal(3, r.Values.Count));
        Assert.Equal(["malformed_pair", "malformed_pair", "missing_field", "invalid_number", "wrong_unit", "line_too_long", "binary_garbage"],
            sink.Rejected);
        Assert.False(run.IsCompleted);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Tfmini_on_a_pty_resynchronises_after_a_partial_frame_and_a_bad_checksum()
    {
        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath, new SerialSettings(115200));
        var (sink, run, stop) = await RunDriver(port, new TfminiDriver());
        var bad = SimulatedTfmini.Encode(999, 1000, 30);
        bad[8] ^= 0xFF;
        pty.Write(SimulatedTfmini.Encode(100, 1000, 30).AsSpan(3)); // connected mid-frame
        pty.Write(SimulatedTfmini.Encode(101, 1000, 30));
        pty.Write(bad);
        pty.Write(SimulatedTfmini.Encode(102, 1000, 30));
        await TaskTimeouts.Eventually(() => sink.Readings.Count >= 2, "two good frames");
        Assert.Equal([101, 102], sink.Readings.Cast<RangeReading>().Select(r => r.Frame.DistanceCm));
        Assert.Equal(["checksum_mismatch"], sink.Rejected);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Closing_the_pty_ends_the_stream_with_a_disconnect_reason()
    {
        var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath);
        var (sink, run, stop) = await RunDriver(port, new NmeaGpsDriver());
        pty.Dispose();
        await run.WithTimeout(); // returns (end of stream), does not throw
        // Linux reports a pty whose master went away as end of file; a USB adapter pulled out gives EIO. Both end the stream.
        Assert.Equal("end of file (device closed)", port.Disconnect);
        Assert.Empty(sink.Readings);
        Assert.Empty(sink.Rejected);
        stop.Dispose();
    }

    [Fact]
    public void Missing_device_message_says_to_check_the_cable_and_the_name()
    {
        var port = SerialPortStream.TryOpen("/dev/ttyUSB-edge-test-missing", new SerialSettings(9600), out var failure);
        Assert.Null(port);
        Assert.Equal(SerialOpenError.NotFound, failure!.Error);
        Assert.Contains("/dev/ttyUSB-edge-test-missing not found (ENOENT)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("plugged in", failure.Message, StringComparison.Ordinal);
        Assert.Contains("/dev/serial/by-id/", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dangling_by_id_symlink_says_where_it_points()
    {
        var dir = Directory.CreateTempSubdirectory("edge-serial-");
        try
        {
            var link = Path.Combine(dir.FullName, "usb-u-blox_GNSS-if00");
            File.CreateSymbolicLink(link, "/dev/ttyACM-edge-test-gone");
            Assert.Null(SerialPortStream.TryOpen(link, new SerialSettings(9600), out var failure));
            Assert.Equal(SerialOpenError.NotFound, failure!.Error);
            Assert.Contains("points to /dev/ttyACM-edge-test-gone, which does not exist", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [LibraryImport("libc", EntryPoint = "setfsuid")]
    private static partial int SetFsUid(uint uid);

    [LibraryImport("libc", EntryPoint = "setfsgid")]
    private static partial int SetFsGid(uint gid);

    /// <summary>
    /// Tests run as root, whom file permissions do not stop. setfsuid/setfsgid change the filesystem
    /// identity of this one thread only, and the kernel drops CAP_DAC_OVERRIDE with it, so the open
    /// below is refused by the kernel exactly as it would be for an unprivileged service user.
    /// </summary>
    [Fact]
    public void Permission_denied_names_the_group_to_join()
    {
        using var pty = PseudoTerminal.Open();
        var dialout = SerialPortTestsHelpers.GroupId("dialout");
        Assert.Equal(0, SerialPortTestsHelpers.Chown(pty.SlavePath, 0, dialout));
        File.SetUnixFileMode(pty.SlavePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);

        SerialOpenFailure? failure = null;
        SerialPortStream? port = null;
        var thread = new Thread(() =>
        {
            _ = SetFsGid(65534);
            _ = SetFsUid(65534);
            try
            {
                port = SerialPortStream.TryOpen(pty.SlavePath, new SerialSettings(9600), out failure);
            }
            finally
            {
                _ = SetFsUid(0);
                _ = SetFsGid(0);
            }
        });
        thread.Start();
        thread.Join();

        port?.Dispose();
        Assert.Null(port);
        Assert.Equal(SerialOpenError.PermissionDenied, failure!.Error);
        Assert.Contains("(EACCES)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("owned by root:dialout with mode rw-rw----", failure.Message, StringComparison.Ordinal);
        Assert.Contains("sudo usermod -aG dialout", failure.Message, StringComparison.Ordinal);

        // The same device opens for root: the refusal above came from the permissions, nothing else.
        using var ok = OpenOrFail(pty.SlavePath);
    }

    [Fact]
    public void Second_open_of_the_same_device_is_busy_and_says_how_to_find_the_holder()
    {
        using var pty = PseudoTerminal.Open();
        using var first = OpenOrFail(pty.SlavePath);
        Assert.Null(SerialPortStream.TryOpen(pty.SlavePath, new SerialSettings(9600), out var failure));
        Assert.Equal(SerialOpenError.Busy, failure!.Error);
        Assert.Contains("is busy", failure.Message, StringComparison.Ordinal);
        Assert.Contains("fuser -v", failure.Message, StringComparison.Ordinal);
        Assert.Contains("gpsd", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_regular_file_is_not_a_serial_device()
    {
        var file = Path.GetTempFileName();
        try
        {
            Assert.Null(SerialPortStream.TryOpen(file, new SerialSettings(9600), out var failure));
            Assert.Equal(SerialOpenError.NotATerminal, failure!.Error);
            Assert.Contains("is not a serial device", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Non_standard_baud_rate_is_refused_with_the_list_of_rates()
    {
        using var pty = PseudoTerminal.Open();
        Assert.Null(SerialPortStream.TryOpen(pty.SlavePath, new SerialSettings(12345), out var failure));
        Assert.Equal(SerialOpenError.UnsupportedSettings, failure!.Error);
        Assert.Contains("115200", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(9600, "8N1")]
    [InlineData(115200, "7E1")]
    [InlineData(921600, "8O2")]
    [InlineData(1200, "7N2")]
    public void Every_standard_framing_is_applied_to_the_tty(int baud, string framing)
    {
        Assert.True(SerialSettings.TryParseFraming(framing, out var bits, out var parity, out var stop));
        using var pty = PseudoTerminal.Open();
        using var port = OpenOrFail(pty.SlavePath, new SerialSettings(baud, bits, parity, stop));
        Assert.Equal($"{baud} {framing}", port.Settings.ToString());
        Assert.True(SerialPortTestsHelpers.ReadTermios(pty.SlavePath, out var cflag, out var speed));
        Assert.True(SerialSettings.TryGetSpeedConstant(baud, out var expectedSpeed));
        Assert.Equal(expectedSpeed, speed); // the speed reached the kernel

        // A pty keeps its own hardware bits (CSIZE, PARENB, CSTOPB), so check the termios we hand to tcsetattr.
        var t = default(LibC.Termios);
        t.c_cflag = 0x30 | 0x100 | 0x40 | 0x80000000; // start from the opposite of what is asked
        SerialPortStream.ApplyFraming(ref t, port.Settings);
        Assert.Equal(bits == 8 ? 0x30u : 0x20u, t.c_cflag & 0x30u);
        Assert.Equal(parity != SerialParity.None, (t.c_cflag & 0x100u) != 0);
        Assert.Equal(parity == SerialParity.Odd, (t.c_cflag & 0x200u) != 0);
        Assert.Equal(stop == 2, (t.c_cflag & 0x40u) != 0);
        Assert.Equal(0u, t.c_cflag & 0x80000000u); // no RTS/CTS unless configured
        Assert.Equal(0x80u, t.c_cflag & 0x80u);   // CREAD: the receiver is on
        Assert.Equal(0x800u, t.c_cflag & 0x800u); // CLOCAL: modem control lines ignored
        Assert.Equal(parity != SerialParity.None, (t.c_iflag & 0x10u) != 0); // INPCK
    }

    [Theory]
    [InlineData("8N1", true)]
    [InlineData("7e1", true)]
    [InlineData("5O2", true)]
    [InlineData("9N1", false)]
    [InlineData("8X1", false)]
    [InlineData("8N3", false)]
    [InlineData("8N", false)]
    [InlineData(null, false)]
    public void Framing_strings_are_parsed_strictly(string? text, bool ok)
    {
        Assert.Equal(ok, SerialSettings.TryParseFraming(text, out _, out _, out _));
    }

    [Theory]
    [InlineData(2, SerialOpenError.NotFound, "not found")]
    [InlineData(13, SerialOpenError.PermissionDenied, "usermod -aG dialout")]
    [InlineData(1, SerialOpenError.PermissionDenied, "usermod -aG dialout")]
    [InlineData(16, SerialOpenError.Busy, "fuser")]
    [InlineData(25, SerialOpenError.NotATerminal, "not a serial device")]
    [InlineData(22, SerialOpenError.UnsupportedSettings, "standard baud rate")]
    [InlineData(71, SerialOpenError.Other, "Cannot open")]
    public void Every_errno_maps_to_an_actionable_message(int errno, SerialOpenError error, string advice)
    {
        Assert.Equal(error, SerialErrorMessages.Classify(errno));
        var message = SerialErrorMessages.Describe(error, errno, "/dev/ttyUSB0", null, null, "edge");
        Assert.Contains(advice, message, StringComparison.Ordinal);
        Assert.Contains("/dev/ttyUSB0", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Device_readable_only_by_root_gets_udev_advice()
    {
        var message = SerialErrorMessages.Describe(SerialOpenError.PermissionDenied, 13, "/dev/ttyUSB0", null,
            new DeviceAccess("root", "root", 0x180), "edge");
        Assert.Contains("mode rw-------", message, StringComparison.Ordinal);
        Assert.Contains("udev rule", message, StringComparison.Ordinal);
    }
}

internal static partial class SerialPortTestsHelpers
{
    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chown(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetattr")]
    private static partial int TcGetAttr(int fd, [Out] byte[] termios);

    public static uint GroupId(string name)
        => File.ReadLines("/etc/group").Select(l => l.Split(':')).Where(p => p[0] == name).Select(p => uint.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture)).First();

    /// <summary>Reads c_cflag and the output speed as another process would see them.</summary>
    public static bool ReadTermios(string path, out uint cflag, out uint speed)
    {
        cflag = speed = 0;
        var fd = Open(path, 0x2 | 0x100 | 0x800);
        if (fd < 0)
        {
            return false;
        }

        try
        {
            var t = new byte[60];
            if (TcGetAttr(fd, t) != 0)
            {
                return false;
            }

            cflag = BitConverter.ToUInt32(t, 8);
            speed = BitConverter.ToUInt32(t, 56);
            return true;
        }
        finally
        {
            _ = Close(fd);
        }
    }
}
