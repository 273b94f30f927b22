using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeGateway.Hosting.Tests;

public sealed record PromSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"{Name} has no label {name}");
}

public sealed class PromFamily(string name, string type)
{
    public string Name { get; } = name;

    public string Type { get; } = type;

    public string? Help { get; set; }

    public List<PromSample> Samples { get; } = [];
}

/// <summary>
/// A strict reader of the Prometheus text format 0.0.4, stricter than Prometheus itself where our output
/// should be: every family needs a TYPE before its samples, no blank or free comment lines, no duplicate
/// series, families not interleaved, histograms complete and consistent. Throws <see cref="FormatException"/>
/// naming the line on the first problem.
/// </summary>
public static partial class PrometheusTextParser
{
    private static readonly HashSet<string> Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    [GeneratedRegex(@"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")]
    private static partial Regex Decimal();

    [GeneratedRegex(@"^-?\d+$")]
    private static partial Regex Timestamp();

    public static Dictionary<string, PromFamily> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the last line does not end with a line feed");
        }

        var families = new Dictionary<string, PromFamily>(StringComparer.Ordinal);
        var closed = new HashSet<string>(StringComparer.Ordinal);
        var seenSeries = new HashSet<string>(StringComparer.Ordinal);
        PromFamily? current = null;
        var lines = text.Split('\n');
        for (var n = 0; n < lines.Length - 1; n++)
        {
            var line = lines[n];
            void Fail(string why) => throw new FormatException($"line {n + 1}: {why}: {line}");

            if (line.Length == 0)
            {
                Fail("blank line");
            }

            if (line.Contains('\r'))
            {
                Fail("carriage return");
            }

            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length < 4 || parts[0] != "#" || (parts[1] != "HELP" && parts[1] != "TYPE"))
                {
                    if (parts.Length == 3 && parts[0] == "#" && parts[1] == "HELP")
                    {
                        parts = [.. parts, ""];
                    }
                    else
                    {
                        Fail("not a '# HELP name text' or '# TYPE name type' line");
                    }
                }

                var name = parts[2];
                if (!MetricName().IsMatch(name))
                {
                    Fail("bad metric name in comment");
                }

                if (closed.Contains(name) && current?.Name != name)
                {
                    Fail("comment for a family whose samples are already over");
                }

                if (!families.TryGetValue(name, out var family))
                {
                    if (parts[1] == "HELP")
                    {
                        // HELP may come first; the TYPE must follow before any sample.
                        family = new PromFamily(name, "");
                    }
                    else
                    {
                        if (!Types.Contains(parts[3]))
                        {
                            Fail("unknown type");
                        }

                        family = new PromFamily(name, parts[3]);
                    }

                    families[name] = family;
                }
                else if (parts[1] == "TYPE")
                {
                    if (family.Type.Length > 0)
                    {
                        Fail("second TYPE for a family");
                    }

                    if (family.Samples.Count > 0)
                    {
                        Fail("TYPE after samples");
                    }

                    if (!Types.Contains(parts[3]))
                    {
                        Fail("unknown type");
                    }

                    var typed = new PromFamily(name, parts[3]) { Help = family.Help };
                    families[name] = family = typed;
                }

                if (parts[1] == "HELP")
                {
                    if (family.Help is not null)
                    {
                        Fail("second HELP for a family");
                    }

                    family.Help = UnescapeHelp(parts[3], Fail);
                }

                if (current is not null && current.Name != name)
                {
                    closed.Add(current.Name);
                }

                current = family;
                continue;
            }

            var sample = ParseSample(line, Fail);
            var familyName = FamilyOf(sample.Name, families);
            if (familyName is null)
            {
                Fail("sample without a TYPE line for its family");
            }

            var owner = families[familyName!];
            if (owner.Type.Length == 0)
            {
                Fail("sample before its family's TYPE");
            }

            if (current is null || current.Name != owner.Name)
            {
                Fail("sample interleaved with another family");
            }

            if (owner.Type == "histogram" && sample.Name == owner.Name + "_bucket" && !sample.Labels.ContainsKey("le"))
            {
                Fail("histogram bucket without le");
            }

            if (owner.Type is "counter" or "gauge" or "untyped" && sample.Name != owner.Name)
            {
                Fail("sample name differs from its counter/gauge family");
            }

            var key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value)) + "}";
            if (!seenSeries.Add(key))
            {
                Fail("duplicate series");
            }

            owner.Samples.Add(sample);
        }

        foreach (var family in families.Values)
        {
            if (family.Type.Length == 0)
            {
                throw new FormatException($"family {family.Name} has HELP but no TYPE");
            }

            if (family.Type == "histogram")
            {
                CheckHistogram(family);
            }
        }

        return families;
    }

    private static string? FamilyOf(string sampleName, Dictionary<string, PromFamily> families)
    {
        if (families.ContainsKey(sampleName))
        {
            return sampleName;
        }

        foreach (var suffix in (string[])["_bucket", "_sum", "_count"])
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal)
                && families.TryGetValue(sampleName[..^suffix.Length], out var f) && f.Type is "histogram" or "summary")
            {
                return f.Name;
            }
        }

        return null;
    }

    private static void CheckHistogram(PromFamily family)
    {
        var groups = family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(p => p.Key != "le").OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value)));
        foreach (var group in groups)
        {
            var buckets = group.Where(s => s.Name == family.Name + "_bucket").ToList();
            var count = group.SingleOrDefault(s => s.Name == family.Name + "_count")
                ?? throw new FormatException($"{family.Name}{{{group.Key}}}: no _count");
            _ = group.SingleOrDefault(s => s.Name == family.Name + "_sum")
                ?? throw new FormatException($"{family.Name}{{{group.Key}}}: no _sum");
            if (buckets.Count == 0)
            {
                throw new FormatException($"{family.Name}{{{group.Key}}}: no buckets");
            }

            var previousLe = double.NegativeInfinity;
            var previousCount = 0.0;
            foreach (var bucket in buckets)
            {
                var le = ParseFloat(bucket.Labels["le"]) ?? throw new FormatException($"{family.Name}: le is not a number: {bucket.Labels["le"]}");
                if (le <= previousLe)
                {
                    throw new FormatException($"{family.Name}{{{group.Key}}}: le {le} not increasing");
                }

                if (bucket.Value < previousCount)
                {
                    throw new FormatException($"{family.Name}{{{group.Key}}}: bucket le={le} is not cumulative");
                }

                previousLe = le;
                previousCount = bucket.Value;
            }

            if (!double.IsPositiveInfinity(previousLe))
            {
                throw new FormatException($"{family.Name}{{{group.Key}}}: last bucket is not le=\"+Inf\"");
            }

            if (count.Value != previousCount)
            {
                throw new FormatException($"{family.Name}{{{group.Key}}}: _count {count.Value} differs from the +Inf bucket {previousCount}");
            }
        }
    }

    private static PromSample ParseSample(string line, Action<string> fail)
    {
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        var name = line[..i];
        if (!MetricName().IsMatch(name))
        {
            fail("bad metric name");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i >= line.Length)
                {
                    fail("unterminated label set");
                }

                if (line[i] == '}')
                {
                    i++;
                    break;
                }

                var start = i;
                while (i < line.Length && line[i] != '=')
                {
                    i++;
                }

                var labelName = line[start..i];
                if (!LabelName().IsMatch(labelName) || labelName.StartsWith("__", StringComparison.Ordinal))
                {
                    fail($"bad label name '{labelName}'");
                }

                if (i + 1 >= line.Length || line[i + 1] != '"')
                {
                    fail("label value not quoted");
                }

                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length)
                    {
                        fail("unterminated label value");
                    }

                    var c = line[i++];
                    if (c == '"')
                    {
                        break;
                    }

                    if (c == '\\')
                    {
                        if (i >= line.Length)
                        {
                            fail("dangling backslash");
                        }

                        var e = line[i++];
                        value.Append(e switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"bad escape \\{e} in: {line}"),
                        });
                    }
                    else
                    {
                        value.Append(c);
                    }
                }

                if (!labels.TryAdd(labelName, value.ToString()))
                {
                    fail($"label {labelName} twice");
                }

                if (i < line.Length && line[i] == ',')
                {
                    i++;
                }
                else if (i < line.Length && line[i] != '}')
                {
                    fail("expected ',' or '}' after a label");
                }
            }
        }

        if (i >= line.Length || line[i] != ' ')
        {
            fail("expected one space before the value");
        }

        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2 || rest.Any(string.IsNullOrEmpty))
        {
            fail("expected 'value [timestamp]'");
        }

        var parsed = ParseFloat(rest[0]);
        if (parsed is null)
        {
            fail($"bad value '{rest[0]}'");
        }

        if (rest.Length == 2 && !Timestamp().IsMatch(rest[1]))
        {
            fail("bad timestamp");
        }

        return new PromSample(name, labels, parsed!.Value);
    }

    public static double? ParseFloat(string text) => text switch
    {
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when Decimal().IsMatch(text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => null,
    };

    private static string UnescapeHelp(string text, Action<string> fail)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                sb.Append(text[i]);
                continue;
            }

            if (i + 1 >= text.Length)
            {
                fail("dangling backslash in HELP");
            }

            var e = text[++i];
            if (e == '\\')
            {
                sb.Append('\\');
            }
            else if (e == 'n')
            {
                sb.Append('\n');
            }
            else
            {
                fail($"bad escape \\{e} in HELP");
            }
        }

        return sb.ToString();
    }
}
