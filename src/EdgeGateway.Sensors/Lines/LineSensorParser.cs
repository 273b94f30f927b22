using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeGateway.Sensors.Lines;

/// <summary>How a line sensor writes its values.</summary>
public enum LineFormat
{
    /// <summary>One JSON object per line: <c>{"temperature":21.5,"humidity":40}</c>.</summary>
    Json = 0,
    /// <summary><c>key=value</c> pairs separated by commas, semicolons or spaces: <c>t=21.5 h=40%</c>.</summary>
    KeyValue = 1,
    /// <summary>Comma-separated (or another separator) values in the configured column order.</summary>
    Csv = 2,
}

public enum LineParseResult
{
    Ok = 0,
    Empty,
    InvalidJson,
    /// <summary>Valid JSON, but not an object.</summary>
    NotJsonObject,
    /// <summary>A key=value token without <c>=</c>, or with an empty or odd key.</summary>
    MalformedPair,
    /// <summary>A CSV line with a different number of columns than configured.</summary>
    ColumnCountMismatch,
    /// <summary>A numeric field holds something that is not a number.</summary>
    InvalidNumber,
    /// <summary>A number carries a unit other than the configured one (<c>21.5F</c> where <c>°C</c> was configured).</summary>
    WrongUnit,
    /// <summary>A configured field is absent.</summary>
    MissingField,
    /// <summary>The line carried no value at all.</summary>
    NoValues,
}

/// <summary>One configured field: its name in the line, an optional unit, whether it is text.</summary>
/// <param name="Name">Key (JSON, key=value) or column name (CSV).</param>
/// <param name="Unit">Unit of the number, e.g. <c>°C</c>, <c>%</c>, <c>hPa</c>. The device may write it after the number; the recorded key gets it as a suffix (<c>temperature_c</c>).</param>
/// <param name="Text">The value is text, not a number.</param>
public sealed record LineField(string Name, string? Unit = null, bool Text = false)
{
    /// <summary>The key in the recorded payload: snake_case name plus a unit suffix.</summary>
    public string OutputKey { get; } = LineSensorParser.OutputKeyFor(Name, Unit);
}

/// <summary>One value read from a line: a number or a text (exactly one is set).</summary>
public readonly record struct SensorValue(string Key, double? Number, string? Text);

/// <summary>
/// Parses one line from a line sensor into named values. Pure; never throws on input. With configured
/// fields it picks (and requires) those; without (JSON, key=value) it takes every top-level value, up
/// to <see cref="MaxValues"/>.
/// </summary>
public sealed class LineSensorParser
{
    public const int MaxValues = 32;
    public const int MaxKeyLength = 64;

    private readonly LineFormat _format;
    private readonly IReadOnlyList<LineField> _fields;
    private readonly Dictionary<string, LineField> _byName;
    private readonly char _separator;

    public LineSensorParser(LineFormat format, IReadOnlyList<LineField>? fields = null, char separator = ',')
    {
        _format = format;
        _fields = fields ?? [];
        if (format == LineFormat.Csv && _fields.Count == 0)
        {
            throw new ArgumentException("CSV needs named columns.", nameof(fields));
        }

        _byName = _fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
        _separator = separator;
    }

    /// <summary>Parses <paramref name="line"/> (UTF-8, no terminator) and appends its values to <paramref name="values"/>.</summary>
    public LineParseResult Parse(ReadOnlySpan<byte> line, List<SensorValue> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        values.Clear();
        line = line.Trim(" \t"u8);
        if (line.IsEmpty)
        {
            return LineParseResult.Empty;
        }

        var result = _format switch
        {
            LineFormat.Json => ParseJson(line, values),
            LineFormat.KeyValue => ParseKeyValue(line, values),
            _ => ParseCsv(line, values),
        };
        if (result != LineParseResult.Ok)
        {
            values.Clear();
            return result;
        }

        foreach (var field in _fields)
        {
            if (!values.Exists(v => ReferenceEquals(v.Key, field.OutputKey)) && _format != LineFormat.Csv)
            {
                values.Clear();
                return LineParseResult.MissingField;
            }
        }

        return values.Count == 0 ? LineParseResult.NoValues : LineParseResult.Ok;
    }

    private LineParseResult ParseJson(ReadOnlySpan<byte> line, List<SensorValue> values)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 16 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return reader.TokenType == JsonTokenType.None ? LineParseResult.InvalidJson : LineParseResult.NotJsonObject;
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                reader.Read();
                var field = Lookup(name);
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        reader.Skip(); // nested values are not flattened
                        if (field is not null)
                        {
                            return LineParseResult.InvalidNumber;
                        }

                        continue;
                    case JsonTokenType.Number:
                        if (field is null && _fields.Count > 0)
                        {
                            break; // not configured: ignored
                        }

                        // Beyond double's range GetDouble does not throw, it returns infinity: refuse it like "warm".
                        if (!reader.TryGetDouble(out var value) || !double.IsFinite(value))
                        {
                            return LineParseResult.InvalidNumber;
                        }

                        if (field is { Text: true })
                        {
                            Add(values, field, name, null, value.ToString("R", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            Add(values, field, name, value, null);
                        }

                        break;
                    case JsonTokenType.String:
                        if (field is { Text: false })
                        {
                            var r = ParseNumber(reader.ValueSpan, field.Unit, out var number);
                            if (r != LineParseResult.Ok)
                            {
                                return r;
                            }

                            Add(values, field, name, number, null);
                        }
                        else if (field is not null || _fields.Count == 0)
                        {
                            Add(values, field, name, null, reader.GetString());
                        }

                        break;
                    case JsonTokenType.True or JsonTokenType.False:
                        if (field is { Text: false })
                        {
                            return LineParseResult.InvalidNumber;
                        }

                        if (field is not null || _fields.Count == 0)
                        {
                            Add(values, field, name, reader.TokenType == JsonTokenType.True ? 1 : 0, null);
                        }

                        break;
                    default:
                        if (field is not null)
                        {
                            return LineParseResult.InvalidNumber; // null for a configured field
                        }

                        break;
                }
            }

            // Anything after the object (a second object, trailing junk) makes the line invalid.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return LineParseResult.InvalidJson;
            }
        }
        catch (JsonException)
        {
            return LineParseResult.InvalidJson;
        }
        catch (InvalidOperationException)
        {
            // A name or string with a lone surrogate escape ("\ud800"): valid JSON, but no text. The framer already
            // dropped lines with invalid UTF-8, so this is the one way a string can fail to read (found by fuzzing).
            return LineParseResult.InvalidJson;
        }

        return LineParseResult.Ok;
    }

    private LineParseResult ParseKeyValue(ReadOnlySpan<byte> line, List<SensorValue> values)
    {
        foreach (var range in line.SplitAny(", ;\t"u8))
        {
            var token = line[range];
            if (token.IsEmpty)
            {
                continue;
            }

            var eq = token.IndexOf((byte)'=');
            if (eq <= 0 || eq > MaxKeyLength)
            {
                return LineParseResult.MalformedPair;
            }

            var key = token[..eq];
            foreach (var b in key)
            {
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'_' or (byte)'-' or (byte)'.'))
                {
                    return LineParseResult.MalformedPair;
                }
            }

            var name = Encoding.ASCII.GetString(key);
            var field = Lookup(name);
            if (field is null && _fields.Count > 0)
            {
                continue; // not configured: ignored
            }

            var raw = token[(eq + 1)..];
            if (field is { Text: true })
            {
                Add(values, field, name, null, Encoding.UTF8.GetString(raw));
                continue;
            }

            var r = ParseNumber(raw, field?.Unit, out var number);
            if (r == LineParseResult.Ok)
            {
                Add(values, field, name, number, null);
            }
            else if (field is null)
            {
                Add(values, null, name, null, Encoding.UTF8.GetString(raw)); // unconfigured: keep as text
            }
            else
            {
                return r;
            }
        }

        return LineParseResult.Ok;
    }

    private LineParseResult ParseCsv(ReadOnlySpan<byte> line, List<SensorValue> values)
    {
        if (line.Count((byte)_separator) + 1 != _fields.Count)
        {
            return LineParseResult.ColumnCountMismatch;
        }

        var i = -1;
        foreach (var range in line.Split((byte)_separator))
        {
            i++;
            var raw = line[range].Trim(" \t"u8);
            var field = _fields[i];
            if (raw.IsEmpty)
            {
                continue; // an empty column is "not measured", not an error
            }

            if (field.Text)
            {
                Add(values, field, field.Name, null, Encoding.UTF8.GetString(raw));
                continue;
            }

            var r = ParseNumber(raw, field.Unit, out var number);
            if (r != LineParseResult.Ok)
            {
                return r;
            }

            Add(values, field, field.Name, number, null);
        }

        return LineParseResult.Ok;
    }

    private LineField? Lookup(string name) => _byName.GetValueOrDefault(name);

    private static void Add(List<SensorValue> values, LineField? field, string name, double? number, string? text)
    {
        if (values.Count >= MaxValues || name.Length > MaxKeyLength)
        {
            return;
        }

        values.Add(new SensorValue(field?.OutputKey ?? OutputKeyFor(name, null), number, text));
    }

    /// <summary>A plain decimal number, optionally followed by the configured unit (case-insensitive, spaces allowed).</summary>
    internal static LineParseResult ParseNumber(ReadOnlySpan<byte> raw, string? unit, out double number)
    {
        raw = raw.Trim(" \t"u8);
        var end = 0;
        while (end < raw.Length && raw[end] is (>= (byte)'0' and <= (byte)'9') or (byte)'.' or (byte)'-' or (byte)'+' or (byte)'e' or (byte)'E')
        {
            end++;
        }

        // Do not let an exponent letter swallow the start of a unit such as "e" in nothing realistic; Utf8Parser decides.
        if (end == 0 || !Utf8Parser.TryParse(raw[..end], out number, out var consumed) || !double.IsFinite(number))
        {
            number = 0;
            return LineParseResult.InvalidNumber;
        }

        var rest = raw[consumed..].Trim(" \t"u8);
        if (rest.IsEmpty)
        {
            return LineParseResult.Ok;
        }

        if (unit is null)
        {
            return LineParseResult.InvalidNumber;
        }

        return Encoding.UTF8.GetString(rest).Equals(unit, StringComparison.OrdinalIgnoreCase)
            ? LineParseResult.Ok
            : LineParseResult.WrongUnit;
    }

    /// <summary><c>Temperature</c> + <c>°C</c> → <c>temperature_c</c>; <c>%</c> → <c>pct</c>.</summary>
    public static string OutputKeyFor(string name, string? unit)
    {
        var key = SnakeCase(name);
        if (string.IsNullOrWhiteSpace(unit))
        {
            return key;
        }

        // Units keep their letters as one word (hPa -> hpa), unlike names (relHumidity -> rel_humidity).
        var sb = new StringBuilder(unit.Length + 2);
        foreach (var c in unit.Replace("%", "pct", StringComparison.Ordinal))
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(char.ToLowerInvariant(c));
            }
            else if (sb.Length > 0 && sb[^1] != '_')
            {
                sb.Append('_');
            }
        }

        var suffix = sb.ToString().Trim('_');
        return suffix.Length == 0 ? key : key + "_" + suffix;
    }

    internal static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsAsciiLetterUpper(c))
            {
                if (sb.Length > 0 && sb[^1] != '_' && i > 0 && (char.IsAsciiLetterLower(name[i - 1]) || char.IsAsciiDigit(name[i - 1])))
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c))
            {
                sb.Append(c);
            }
            else if (sb.Length > 0 && sb[^1] != '_')
            {
                sb.Append('_'); // '-', '.', ' ', '°', '/' …
            }
        }

        return sb.ToString().Trim('_');
    }
}
