using System.Diagnostics.Metrics;
using System.Text;

namespace EdgeGateway.Hosting.Metrics;

/// <summary>How one instrument is kept and written. Created when the instrument is published.</summary>
internal abstract class InstrumentExport(Instrument instrument, string familyName, string type)
{
    public Instrument Instrument { get; } = instrument;

    public string FamilyName { get; } = familyName;

    public string Type { get; } = type;

    /// <summary>The exporter that keeps this instrument (its scrape generation stamps observable values).</summary>
    public PrometheusExporter? Owner { get; set; }

    /// <summary>Set by the exporter to log the series limit once.</summary>
    public Action<InstrumentExport>? LimitReached { get; set; }

    public abstract void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, long generation);

    public abstract void Write(StringBuilder sb, long generation);

    protected void WriteHeader(StringBuilder sb) => PrometheusText.AppendHeader(sb, FamilyName, Type, Instrument.Description);

    protected static void WriteSample(StringBuilder sb, string name, string labels, double value)
    {
        sb.Append(name);
        if (labels.Length > 0)
        {
            sb.Append('{').Append(labels).Append('}');
        }

        sb.Append(' ');
        PrometheusText.AppendValue(sb, value);
        sb.Append('\n');
    }
}

/// <summary>Counter (monotonic) and UpDownCounter (gauge): measurements are deltas added to a sum.</summary>
internal sealed class SumExport(Instrument instrument, string familyName, string type, int maxSeries)
    : InstrumentExport(instrument, familyName, type)
{
    private readonly SeriesTable<SumSeries> _series = new(maxSeries);
    private static readonly Func<string, SumSeries> Create = labels => new SumSeries(labels);

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, long generation)
    {
        var series = _series.Get(tags, Create, out var limitHit);
        if (series is null)
        {
            if (limitHit)
            {
                LimitReached?.Invoke(this);
            }

            return;
        }

        series.Add(value);
    }

    public override void Write(StringBuilder sb, long generation)
    {
        WriteHeader(sb);
        foreach (var series in _series.Snapshot())
        {
            WriteSample(sb, FamilyName, series.Labels, series.Value);
        }
    }
}

/// <summary>
/// Observable instruments and synchronous gauges: measurements are absolute values. Observable ones are
/// re-observed at each scrape, so a label set the callback no longer reports disappears.
/// </summary>
internal sealed class LastValueExport(Instrument instrument, string familyName, string type, int maxSeries, bool observable)
    : InstrumentExport(instrument, familyName, type)
{
    private readonly SeriesTable<LastValueSeries> _series = new(maxSeries);
    private static readonly Func<string, LastValueSeries> Create = labels => new LastValueSeries(labels);

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, long generation)
    {
        var series = _series.Get(tags, Create, out var limitHit);
        if (series is null)
        {
            if (limitHit)
            {
                LimitReached?.Invoke(this);
            }

            return;
        }

        series.Set(value, generation);
    }

    public override void Write(StringBuilder sb, long generation)
    {
        WriteHeader(sb);
        foreach (var series in _series.Snapshot())
        {
            if (!observable || series.Generation == generation)
            {
                WriteSample(sb, FamilyName, series.Labels, series.Value);
            }
        }
    }
}

internal sealed class HistogramExport : InstrumentExport
{
    private readonly SeriesTable<HistogramSeries> _series;
    private readonly Func<string, HistogramSeries> _create;
    private readonly string[] _leLabels;

    public HistogramExport(Instrument instrument, string familyName, double[] bounds, int maxSeries)
        : base(instrument, familyName, "histogram")
    {
        Bounds = bounds;
        _series = new SeriesTable<HistogramSeries>(maxSeries);
        _create = labels => new HistogramSeries(labels, bounds);
        _leLabels = [.. bounds.Select(PrometheusText.FormatValue), "+Inf"];
    }

    public double[] Bounds { get; }

    public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, long generation)
    {
        var series = _series.Get(tags, _create, out var limitHit);
        if (series is null)
        {
            if (limitHit)
            {
                LimitReached?.Invoke(this);
            }

            return;
        }

        series.Record(value);
    }

    public override void Write(StringBuilder sb, long generation)
    {
        WriteHeader(sb);
        var bucketName = FamilyName + "_bucket";
        foreach (var series in _series.Snapshot())
        {
            var (counts, sum) = series.Read();
            long cumulative = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                cumulative += counts[i];
                sb.Append(bucketName).Append('{');
                if (series.Labels.Length > 0)
                {
                    sb.Append(series.Labels).Append(',');
                }

                sb.Append("le=\"").Append(_leLabels[i]).Append("\"} ");
                PrometheusText.AppendValue(sb, cumulative);
                sb.Append('\n');
            }

            WriteSample(sb, FamilyName + "_sum", series.Labels, sum);
            WriteSample(sb, FamilyName + "_count", series.Labels, cumulative);
        }
    }
}
