using System.Globalization;
using System.Text;

namespace EdgeGateway.Hosting.Metrics;

/// <summary>Pieces of the Prometheus text exposition format 0.0.4: names, escaping, numbers.</summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*; anything else becomes '_'.</summary>
    public static string MetricName(string name) => Sanitise(name, allowColon: true);

    /// <summary>
    /// A gauge's name may not end in <c>_count</c> (reserved for histograms and summaries; promtool rejects it). Such
    /// a gauge counts things of the kind its unit annotation names, so it is named after them in the plural:
    /// <c>dotnet.assembly.count</c> with unit <c>{assembly}</c> becomes <c>dotnet_assemblies</c>,
    /// <c>dotnet.thread_pool.thread.count</c> with <c>{thread}</c> becomes <c>dotnet_thread_pool_threads</c>.
    /// Without an annotation the suffix becomes <c>_items</c>. Other names are returned as they are.
    /// </summary>
    public static string GaugeName(string name, string? unit)
    {
        const string Count = "_count";
        if (!name.EndsWith(Count, StringComparison.Ordinal) || name.Length == Count.Length)
        {
            return name;
        }

        var stem = name[..^Count.Length];
        var thing = unit is { Length: > 2 } && unit[0] == '{' && unit[^1] == '}' ? Sanitise(unit[1..^1], allowColon: false).ToLowerInvariant() : null;
        if (string.IsNullOrEmpty(thing) || thing.Trim('_').Length == 0)
        {
            return stem + "_items";
        }

        if (stem == thing)
        {
            return Plural(thing);
        }

        if (stem.EndsWith("_" + thing, StringComparison.Ordinal))
        {
            stem = stem[..^(thing.Length + 1)];
        }

        return stem + "_" + Plural(thing);
    }

    private static string Plural(string noun)
    {
        if (noun.Length > 1 && noun[^1] == 'y' && !"aeiou".Contains(noun[^2], StringComparison.Ordinal))
        {
            return noun[..^1] + "ies";
        }

        return noun.EndsWith('s') || noun.EndsWith('x') || noun.EndsWith("ch", StringComparison.Ordinal) || noun.EndsWith("sh", StringComparison.Ordinal)
            ? noun + "es"
            : noun + "s";
    }

    /// <summary>Label names must match [a-zA-Z_][a-zA-Z0-9_]* and must not start with "__" (reserved).</summary>
    public static string LabelName(string name)
    {
        var clean = Sanitise(name, allowColon: false);
        return clean.StartsWith("__", StringComparison.Ordinal) ? "x" + clean : clean;
    }

    private static string Sanitise(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        var needsPrefix = char.IsAsciiDigit(name[0]);
        var clean = true;
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':')))
            {
                clean = false;
                break;
            }
        }

        if (clean && !needsPrefix)
        {
            return name;
        }

        var sb = new StringBuilder(name.Length + 1);
        if (needsPrefix)
        {
            sb.Append('_');
        }

        foreach (var c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        return sb.ToString();
    }

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    public static void AppendLabelValue(StringBuilder sb, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append(@"\n"); break;
                default: sb.Append(c); break;
            }
        }
    }

    /// <summary>HELP text escapes backslash and line feed only.</summary>
    public static void AppendHelp(StringBuilder sb, string help)
    {
        foreach (var c in help)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': break;
                default: sb.Append(c); break;
            }
        }
    }

    public static void AppendValue(StringBuilder sb, double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            sb.Append("+Inf");
        }
        else if (double.IsNegativeInfinity(value))
        {
            sb.Append("-Inf");
        }
        else if (double.IsNaN(value))
        {
            sb.Append("NaN");
        }
        else
        {
            // Shortest round-trip form; Go's ParseFloat (Prometheus) reads "1E+20" as well.
            sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
        }
    }

    public static string FormatValue(double value)
    {
        var sb = new StringBuilder();
        AppendValue(sb, value);
        return sb.ToString();
    }

    /// <summary>A tag value as label text: strings as they are, numbers and the like invariant.</summary>
    public static string LabelText(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        double d => FormatValue(d),
        float f => FormatValue(f),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public static void AppendHeader(StringBuilder sb, string name, string type, string? help)
    {
        if (!string.IsNullOrEmpty(help))
        {
            sb.Append("# HELP ").Append(name).Append(' ');
            AppendHelp(sb, help);
            sb.Append('\n');
        }

        sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }
}
