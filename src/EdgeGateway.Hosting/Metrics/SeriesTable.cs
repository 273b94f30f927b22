using System.Text;

namespace EdgeGateway.Hosting.Metrics;

/// <summary>
/// Finds the series for a tag set without allocating on the update path: a copy-on-write array is scanned
/// by hash and compared tag by tag. Only a miss (a new tag set, or a known one in another tag order) takes
/// the lock, renders the canonical label text and may add an entry.
/// </summary>
internal sealed class SeriesTable<TSeries>(int maxSeries) where TSeries : Series
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TSeries> _byLabels = new(StringComparer.Ordinal);
    private Entry[] _entries = [];

    private volatile bool _limitReached;

    /// <summary>The series for these tags, or null when the series limit is reached (the first time, <paramref name="limitHit"/> is true).</summary>
    public TSeries? Get(ReadOnlySpan<KeyValuePair<string, object?>> tags, Func<string, TSeries> create, out bool limitHit)
    {
        limitHit = false;
        var hash = Hash(tags);
        var entries = Volatile.Read(ref _entries);
        foreach (var entry in entries)
        {
            if (entry.Hash == hash && Same(entry.Tags, tags))
            {
                return entry.Series;
            }
        }

        if (_limitReached)
        {
            // Full: do not pay for rendering labels that will be dropped anyway.
            return null;
        }

        var copy = tags.ToArray();
        var labels = RenderLabels(copy);
        lock (_gate)
        {
            if (!_byLabels.TryGetValue(labels, out var series))
            {
                if (_byLabels.Count >= maxSeries)
                {
                    limitHit = !_limitReached;
                    _limitReached = true;
                    return null;
                }

                series = create(labels);
                _byLabels.Add(labels, series);
            }

            // Remember this tag order too (bounded: a handful of orders per label set at most in practice).
            if (_entries.Length < maxSeries * 4)
            {
                Volatile.Write(ref _entries, [.. _entries, new Entry(hash, copy, series)]);
            }

            return series;
        }
    }

    public TSeries[] Snapshot()
    {
        lock (_gate)
        {
            return [.. _byLabels.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value)];
        }
    }

    private static int Hash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = tags.Length;
        foreach (var tag in tags)
        {
            hash = HashCode.Combine(hash, tag.Key, tag.Value);
        }

        return hash;
    }

    private static bool Same(KeyValuePair<string, object?>[] known, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (known.Length != tags.Length)
        {
            return false;
        }

        for (var i = 0; i < known.Length; i++)
        {
            if (!string.Equals(known[i].Key, tags[i].Key, StringComparison.Ordinal) || !Equals(known[i].Value, tags[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Renders <c>name="value",…</c> sorted by label name, so tag order does not split a series.</summary>
    private static string RenderLabels(KeyValuePair<string, object?>[] tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }

        var pairs = new List<(string Name, string Value)>(tags.Length);
        foreach (var tag in tags)
        {
            var name = PrometheusText.LabelName(tag.Key);
            if (name == "le" || name == "quantile")
            {
                // Reserved by histograms and summaries.
                name = "tag_" + name;
            }

            if (!pairs.Exists(p => p.Name == name))
            {
                pairs.Add((name, PrometheusText.LabelText(tag.Value)));
            }
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var sb = new StringBuilder();
        foreach (var (name, value) in pairs)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(name).Append("=\"");
            PrometheusText.AppendLabelValue(sb, value);
            sb.Append('"');
        }

        return sb.ToString();
    }

    private sealed record Entry(int Hash, KeyValuePair<string, object?>[] Tags, TSeries Series);
}

/// <summary>One label set of one instrument; <see cref="Labels"/> is the rendered label text without braces.</summary>
internal abstract class Series(string labels)
{
    public string Labels { get; } = labels;
}

/// <summary>A running sum (counters, up-down counters).</summary>
internal sealed class SumSeries(string labels) : Series(labels)
{
    private double _value;

    public double Value => Volatile.Read(ref _value);

    public void Add(double delta)
    {
        var current = Volatile.Read(ref _value);
        while (true)
        {
            var seen = Interlocked.CompareExchange(ref _value, current + delta, current);
            if (BitConverter.DoubleToInt64Bits(seen) == BitConverter.DoubleToInt64Bits(current))
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>A last value (gauges, observable instruments); <see cref="Generation"/> says which scrape set it.</summary>
internal sealed class LastValueSeries(string labels) : Series(labels)
{
    private double _value;
    private long _generation;

    public double Value => Volatile.Read(ref _value);

    public long Generation => Volatile.Read(ref _generation);

    public void Set(double value, long generation)
    {
        Volatile.Write(ref _value, value);
        Volatile.Write(ref _generation, generation);
    }
}

/// <summary>
/// Bucket counts (non-cumulative; the last slot is +Inf) and the sum. The exposed _count is the total of the
/// buckets, so it always equals the +Inf bucket even while measurements arrive during a scrape.
/// </summary>
internal sealed class HistogramSeries(string labels, double[] bounds) : Series(labels)
{
    private readonly long[] _counts = new long[bounds.Length + 1];
    private double _sum;

    public void Record(double value)
    {
        var index = Array.BinarySearch(bounds, value);
        if (index < 0)
        {
            index = ~index;
        }

        // NaN sorts first in BinarySearch; it belongs only in +Inf.
        if (double.IsNaN(value))
        {
            index = bounds.Length;
        }

        Interlocked.Increment(ref _counts[index]);
        var current = Volatile.Read(ref _sum);
        while (true)
        {
            var seen = Interlocked.CompareExchange(ref _sum, current + value, current);
            if (BitConverter.DoubleToInt64Bits(seen) == BitConverter.DoubleToInt64Bits(current))
            {
                return;
            }

            current = seen;
        }
    }

    public (long[] Counts, double Sum) Read()
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Interlocked.Read(ref _counts[i]);
        }

        return (counts, Volatile.Read(ref _sum));
    }
}
