using System.Text.RegularExpressions;
using EdgeGateway.Options;
using EdgeGateway.Sensors.I2c;
using EdgeGateway.Sensors.Lines;
using EdgeGateway.Sensors.Serial;
using EdgeGateway.Sensors.Tfmini;

namespace EdgeGateway.Sensors.Hosting;

/// <summary>One configured field of a line sensor.</summary>
public sealed class LineFieldOptions
{
    /// <summary>Key (JSON, key=value) or column name (CSV).</summary>
    public string Name { get; set; } = "";

    /// <summary>Unit the device may write after the number (<c>C</c>, <c>%</c>, <c>hPa</c>); becomes the key's suffix.</summary>
    public string? Unit { get; set; }

    /// <summary>The value is text rather than a number.</summary>
    public bool Text { get; set; }
}

/// <summary>One sensor (configuration <c>Sensors:Items:N</c>).</summary>
public sealed class SensorOptions
{
    /// <summary>Id in streams (<c>sensor/{Id}</c>), the API and metrics: lowercase letters, digits, '-' and '_'.</summary>
    public string Id { get; set; } = "";

    /// <summary><c>nmea</c>, <c>lines</c>, <c>tfmini</c>, <c>gpsd</c> or <c>i2c</c>.</summary>
    public string Type { get; set; } = "";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Serial device path (nmea, lines, tfmini); prefer <c>/dev/serial/by-id/…</c>. For <c>i2c</c>, the chip:
    /// <c>bme280</c>, <c>bmp280</c>, <c>ina219</c> or <c>mpu6050</c>.
    /// </summary>
    public string? Device { get; set; }

    /// <summary>Baud rate; default 9600 (nmea, lines) or 115200 (tfmini).</summary>
    public int? Baud { get; set; }

    /// <summary>Data bits, parity, stop bits: <c>8N1</c> (default), <c>7E1</c>, <c>8O2</c> …</summary>
    public string Framing { get; set; } = "8N1";

    /// <summary><c>none</c> (default), <c>rtscts</c> or <c>xonxoff</c>.</summary>
    public string FlowControl { get; set; } = "none";

    /// <summary>gpsd host (default 127.0.0.1).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>gpsd port (default 2947).</summary>
    public int Port { get; set; } = 2947;

    /// <summary>Line sensors: <c>json</c>, <c>keyvalue</c> or <c>csv</c>.</summary>
    public string? Format { get; set; }

    /// <summary>Line sensors: named fields (required for csv, in column order; optional otherwise: then every value is taken).</summary>
    public List<LineFieldOptions> Fields { get; set; } = [];

    /// <summary>CSV separator: one character, default ','.</summary>
    public string Separator { get; set; } = ",";

    /// <summary>Line sensors: longest accepted line in bytes (16–4096).</summary>
    public int MaxLineLength { get; set; } = 512;

    /// <summary>TFmini model: <c>tfmini-s</c> (default, reports temperature) or <c>tfmini</c>.</summary>
    public string Model { get; set; } = "tfmini-s";

    /// <summary>I2C: the bus number N of <c>/dev/i2c-N</c> (1 on a Raspberry Pi's GPIO header).</summary>
    public int Bus { get; set; } = 1;

    /// <summary>I2C: the 7-bit address, hex (<c>0x76</c>) or decimal; default per chip (0x76, 0x40, 0x68).</summary>
    public string? Address { get; set; }

    /// <summary>I2C: reads per second; default per chip (bme280/bmp280 1, ina219 2, mpu6050 10).</summary>
    public double? RateHz { get; set; }

    /// <summary>INA219: the shunt resistor in ohms (0.1 on the common breakout boards).</summary>
    public double ShuntOhms { get; set; } = 0.1;

    /// <summary>INA219: the largest current expected, in amperes; sets the current resolution (3.2 A: 100 µA steps with a 0.1 Ω shunt).</summary>
    public double MaxCurrentA { get; set; } = 3.2;

    /// <summary>At most this many records per second go to the buffer (the API still shows every reading). 0 records every reading.</summary>
    public double MaxRecordRateHz { get; set; } = 10;

    internal bool IsSerial => Type is "nmea" or "lines" or "tfmini";

    internal I2cSensorModel? ToI2cModel() => Device?.ToLowerInvariant() switch
    {
        "bme280" => I2cSensorModel.Bme280,
        "bmp280" => I2cSensorModel.Bmp280,
        "ina219" => I2cSensorModel.Ina219,
        "mpu6050" => I2cSensorModel.Mpu6050,
        _ => null,
    };

    /// <summary>The configured address, or the chip's usual one; null when <see cref="Address"/> does not parse.</summary>
    internal int? ToI2cAddress()
    {
        if (string.IsNullOrWhiteSpace(Address))
        {
            return ToI2cModel() switch
            {
                I2cSensorModel.Ina219 => 0x40,
                I2cSensorModel.Mpu6050 => 0x68,
                _ => 0x76,
            };
        }

        var a = Address.Trim();
        return a.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.TryParse(a.AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var hex) ? hex : null
            : int.TryParse(a, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var dec) ? dec : null;
    }

    internal double I2cRateHz => RateHz ?? ToI2cModel() switch
    {
        I2cSensorModel.Ina219 => 2,
        I2cSensorModel.Mpu6050 => 10,
        _ => 1,
    };

    internal SerialSettings ToSerialSettings()
    {
        _ = Serial.SerialSettings.TryParseFraming(Framing, out var bits, out var parity, out var stop); // validated at start; 8N1 otherwise
        var flow = FlowControl.ToLowerInvariant() switch
        {
            "rtscts" => SerialFlowControl.RtsCts,
            "xonxoff" => SerialFlowControl.XonXoff,
            _ => SerialFlowControl.None,
        };
        return new SerialSettings(Baud ?? (Type == "tfmini" ? 115200 : 9600), bits, parity, stop, flow);
    }

    internal LineFormat ToLineFormat() => Format?.ToLowerInvariant() switch
    {
        "keyvalue" => LineFormat.KeyValue,
        "csv" => LineFormat.Csv,
        _ => LineFormat.Json,
    };

    internal TfminiModel ToTfminiModel() => Model.Equals("tfmini", StringComparison.OrdinalIgnoreCase) ? TfminiModel.Tfmini : TfminiModel.TfminiS;

    /// <summary>Where the data comes from, for the API: the device path or host:port.</summary>
    internal string Endpoint => Type switch
    {
        "gpsd" => $"{Host}:{Port}",
        "i2c" => $"/dev/i2c-{Bus}@0x{ToI2cAddress() ?? 0:x2}",
        _ => Device ?? "",
    };
}

/// <summary>Options for the sensors (configuration section <c>Sensors</c>).</summary>
public sealed partial class SensorsOptions : IValidatedOptions
{
    public const string SectionName = "Sensors";

    public List<SensorOptions> Items { get; set; } = [];

    /// <summary>First wait before reopening a device that failed or vanished; doubles up to <see cref="ReopenMaxDelay"/>.</summary>
    public TimeSpan ReopenMinDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan ReopenMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// An open sensor with no valid reading for this long is reported degraded. It is also how long the clock
    /// stays marked GPS-backed without a new valid, agreeing GPS time (GPS unplugged, fix lost, gpsd stopped).
    /// </summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A valid GPS time marks the gateway's clock as GPS-backed only when the system clock agrees with it
    /// within this much; otherwise the gateway logs the offset (the system clock needs gpsd/chrony to be set).
    /// </summary>
    public TimeSpan GpsTimeMaxOffset { get; set; } = TimeSpan.FromSeconds(2);

    private static readonly string[] Types = ["nmea", "lines", "tfmini", "gpsd", "i2c"];
    private static readonly string[] Formats = ["json", "keyvalue", "csv"];
    private static readonly string[] FlowControls = ["none", "rtscts", "xonxoff"];
    private static readonly string[] Models = ["tfmini-s", "tfmini"];

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,31}$")]
    private static partial Regex IdPattern();

    public IEnumerable<string> Validate(string section)
    {
        if (ReopenMinDelay <= TimeSpan.Zero)
        {
            yield return $"{section}:ReopenMinDelay: must be greater than 0 (got {ReopenMinDelay})";
        }

        if (ReopenMaxDelay < ReopenMinDelay)
        {
            yield return $"{section}:ReopenMaxDelay: must be at least ReopenMinDelay ({ReopenMinDelay}) (got {ReopenMaxDelay})";
        }

        if (StaleAfter <= TimeSpan.Zero)
        {
            yield return $"{section}:StaleAfter: must be greater than 0 (got {StaleAfter})";
        }

        if (GpsTimeMaxOffset < TimeSpan.Zero)
        {
            yield return $"{section}:GpsTimeMaxOffset: must not be negative (got {GpsTimeMaxOffset})";
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        var devices = new HashSet<string>(StringComparer.Ordinal);
        var i2cAddresses = new HashSet<(int, int)>();
        for (var i = 0; i < Items.Count; i++)
        {
            var s = Items[i];
            var key = $"{section}:Items:{i}";
            if (!IdPattern().IsMatch(s.Id))
            {
                yield return $"{key}:Id: must be 1-32 characters of a-z, 0-9, '-' or '_', starting with a letter or digit (got \"{s.Id}\")";
            }
            else if (!ids.Add(s.Id))
            {
                yield return $"{key}:Id: \"{s.Id}\" is used by another sensor; ids must be unique";
            }

            if (!Types.Contains(s.Type))
            {
                yield return $"{key}:Type: must be one of nmea, lines, tfmini, gpsd, i2c (got \"{s.Type}\")";
                continue;
            }

            if (s.IsSerial)
            {
                if (string.IsNullOrWhiteSpace(s.Device))
                {
                    yield return $"{key}:Device: required for Type={s.Type}: a serial device path such as /dev/ttyUSB0 or /dev/serial/by-id/…";
                }
                else if (s.Enabled && !devices.Add(s.Device))
                {
                    yield return $"{key}:Device: \"{s.Device}\" is used by another sensor; a port can be opened by one sensor only";
                }

                if (s.Baud is { } baud && !SerialSettings.StandardBaudRates.Contains(baud))
                {
                    yield return $"{key}:Baud: must be one of {string.Join(", ", SerialSettings.StandardBaudRates)} (got {baud})";
                }

                if (!SerialSettings.TryParseFraming(s.Framing, out _, out _, out _))
                {
                    yield return $"{key}:Framing: must be data bits 5-8, parity N/E/O, stop bits 1-2, e.g. 8N1 or 7E1 (got \"{s.Framing}\")";
                }

                if (!FlowControls.Contains(s.FlowControl.ToLowerInvariant()))
                {
                    yield return $"{key}:FlowControl: must be one of none, rtscts, xonxoff (got \"{s.FlowControl}\")";
                }
            }

            if (s.Type == "i2c")
            {
                foreach (var problem in ValidateI2c(s, key, i2cAddresses))
                {
                    yield return problem;
                }
            }

            if (s.Type == "gpsd")
            {
                if (string.IsNullOrWhiteSpace(s.Host))
                {
                    yield return $"{key}:Host: required for Type=gpsd (e.g. 127.0.0.1)";
                }

                if (s.Port is < 1 or > 65535)
                {
                    yield return $"{key}:Port: must be 1-65535 (got {s.Port})";
                }
            }

            if (s.Type == "lines")
            {
                if (s.Format is null || !Formats.Contains(s.Format.ToLowerInvariant()))
                {
                    yield return $"{key}:Format: must be one of json, keyvalue, csv (got \"{s.Format}\")";
                }
                else if (s.Format.Equals("csv", StringComparison.OrdinalIgnoreCase) && s.Fields.Count == 0)
                {
                    yield return $"{key}:Fields: csv needs the column names in order, e.g. Fields:0:Name=temperature";
                }

                if (s.Fields.Count > LineSensorParser.MaxValues)
                {
                    yield return $"{key}:Fields: at most {LineSensorParser.MaxValues} fields (got {s.Fields.Count})";
                }

                var names = new HashSet<string>(StringComparer.Ordinal);
                for (var f = 0; f < s.Fields.Count; f++)
                {
                    var name = s.Fields[f].Name;
                    if (string.IsNullOrWhiteSpace(name) || name.Length > LineSensorParser.MaxKeyLength)
                    {
                        yield return $"{key}:Fields:{f}:Name: required, at most {LineSensorParser.MaxKeyLength} characters";
                    }
                    else if (!names.Add(name))
                    {
                        yield return $"{key}:Fields:{f}:Name: \"{name}\" appears twice";
                    }

                    if (s.Fields[f].Text && s.Fields[f].Unit is not null)
                    {
                        yield return $"{key}:Fields:{f}:Unit: a text field has no unit (remove Unit or Text)";
                    }
                }

                if (s.Separator.Length != 1 || s.Separator[0] is '\r' or '\n' or '"')
                {
                    yield return $"{key}:Separator: must be one character other than CR, LF or '\"' (got \"{s.Separator}\")";
                }

                if (s.MaxLineLength is < 16 or > 4096)
                {
                    yield return $"{key}:MaxLineLength: must be 16-4096 (got {s.MaxLineLength})";
                }
            }

            if (s.Type == "tfmini" && !Models.Contains(s.Model.ToLowerInvariant()))
            {
                yield return $"{key}:Model: must be one of tfmini-s, tfmini (got \"{s.Model}\")";
            }

            if (s.MaxRecordRateHz < 0 || !double.IsFinite(s.MaxRecordRateHz))
            {
                yield return $"{key}:MaxRecordRateHz: must be 0 (every reading) or a positive rate (got {s.MaxRecordRateHz})";
            }
        }
        }

    private static IEnumerable<string> ValidateI2c(SensorOptions s, string key, HashSet<(int, int)> taken)
    {
        if (s.ToI2cModel() is null)
        {
            yield return $"{key}:Device: for Type=i2c, the chip: one of bme280, bmp280, ina219, mpu6050 (got \"{s.Device}\")";
        }

        if (s.Bus is < 0 or > 255)
        {
            yield return $"{key}:Bus: must be 0-255, the N of /dev/i2c-N (got {s.Bus})";
        }

        if (s.ToI2cAddress() is not { } address || address is < 0x03 or > 0x77)
        {
            yield return $"{key}:Address: must be a 7-bit address 0x03-0x77, hex (0x76) or decimal (got \"{s.Address}\")";
        }
        else if (s.Enabled && s.ToI2cModel() is not null && !taken.Add((s.Bus, address)))
        {
            yield return $"{key}:Address: 0x{address:x2} on bus {s.Bus} is used by another sensor; one chip answers at an address";
        }

        if (s.RateHz is { } rate && (!double.IsFinite(rate) || rate <= 0 || rate > 100))
        {
            yield return $"{key}:RateHz: must be greater than 0 and at most 100 (got {rate})";
        }

        if (s.ToI2cModel() == I2cSensorModel.Ina219)
        {
            if (!double.IsFinite(s.ShuntOhms) || s.ShuntOhms <= 0 || s.ShuntOhms > 10)
            {
                yield return $"{key}:ShuntOhms: must be greater than 0 and at most 10 (got {s.ShuntOhms})";
            }

            if (!double.IsFinite(s.MaxCurrentA) || s.MaxCurrentA <= 0 || s.MaxCurrentA > 100)
            {
                yield return $"{key}:MaxCurrentA: must be greater than 0 and at most 100 (got {s.MaxCurrentA})";
            }
            else if (double.IsFinite(s.ShuntOhms) && s.ShuntOhms > 0 && s.MaxCurrentA * s.ShuntOhms > 0.32 + 1e-9)
            {
                yield return $"{key}:MaxCurrentA: {s.MaxCurrentA} A across {s.ShuntOhms} Ω is {s.MaxCurrentA * s.ShuntOhms * 1000:0} mV, beyond the INA219's ±320 mV shunt range";
            }
        }
    }
}
