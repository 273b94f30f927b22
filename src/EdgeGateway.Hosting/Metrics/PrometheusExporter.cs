using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgeGateway.Hosting.Metrics;

/// <summary>Renders every exported metric in the Prometheus text format 0.0.4.</summary>
public interface IMetricsExposition
{
    /// <summary><c>text/plain; version=0.0.4; charset=utf-8</c>.</summary>
    string ContentType { get; }

    /// <summary>Observes the observable instruments and renders everything.</summary>
    string Scrape();
}

/// <summary>
/// Listens to every <see cref="Meter"/> whose name starts with a configured prefix (and the runtime's
/// "System.Runtime" meter) and keeps the values for /metrics: counters become <c>_total</c> counters,
/// up-down counters and gauges become gauges, histograms get cumulative buckets. The update path
/// allocates nothing once a label set has been seen.
/// </summary>
internal sealed class PrometheusExporter : IMetricsExposition, IDisposable
{
    internal const string RuntimeMeterName = "System.Runtime";

    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] DefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
    private static readonly double[] ByteBuckets = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

    private static readonly HashSet<string> ReservedNames = new(StringComparer.Ordinal)
    {
        "process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds",
        "process_open_fds", "edge_build_info", "edge_startup_ready_seconds",
    };

    private readonly HostingOptions _options;
    private readonly ILogger _logger;
    private readonly MeterListener _listener;
    private readonly Lock _gate = new();
    private readonly Lock _scrapeGate = new();
    private readonly Dictionary<string, InstrumentExport> _families = new(StringComparer.Ordinal);
    private readonly Dictionary<Instrument, InstrumentExport> _byInstrument = [];
    private readonly StringBuilder _text = new(16 * 1024);
    private readonly string _buildInfoLabels;
    private long _generation;

    public PrometheusExporter(IOptions<HostingOptions> options, ILogger<PrometheusExporter>? logger = null)
    {
        _options = options.Value;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _buildInfoLabels = BuildInfoLabels();
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = OnMeasurementsCompleted,
        };
        _listener.SetMeasurementEventCallback<double>(static (i, v, t, s) => Record(s, v, t));
        _listener.SetMeasurementEventCallback<float>(static (i, v, t, s) => Record(s, v, t));
        _listener.SetMeasurementEventCallback<long>(static (i, v, t, s) => Record(s, v, t));
        _listener.SetMeasurementEventCallback<int>(static (i, v, t, s) => Record(s, v, t));
        _listener.SetMeasurementEventCallback<short>(static (i, v, t, s) => Record(s, v, t));
        _listener.SetMeasurementEventCallback<byte>(static (i, v, t, s) => Record(s, v, t));
        _listener.SetMeasurementEventCallback<decimal>(static (i, v, t, s) => Record(s, (double)v, t));
        _listener.Start();
    }

    public string ContentType => PrometheusText.ContentType;

    public string Scrape()
    {
        lock (_scrapeGate)
        {
            // Observable callbacks run now and stamp their values with this scrape's generation.
            var generation = Interlocked.Increment(ref _generation);
            try
            {
                _listener.RecordObservableInstruments();
            }
            catch (Exception error)
            {
                HostingLog.ObservableCallbackFailed(_logger, error);
            }

            InstrumentExport[] families;
            lock (_gate)
            {
                families = [.. _families.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value)];
            }

            _text.Clear();
            foreach (var family in families)
            {
                family.Write(_text, generation);
            }

            ProcessMetrics.Write(_text, _buildInfoLabels);
            var text = _text.ToString();
            if (_text.Capacity > 1024 * 1024)
            {
                // Do not pin a huge buffer after one unusual scrape.
                _text.Capacity = 16 * 1024;
            }

            return text;
        }
    }

    public void Dispose() => _listener.Dispose();

    private static void Record(object? state, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (state is InstrumentExport export)
        {
            export.Record(value, tags, export is LastValueExport ? ExporterGeneration(export) : 0);
        }
    }

    // Observable values are stamped with the generation of the scrape that observed them.
    private static long ExporterGeneration(InstrumentExport export) => export.Owner is { } owner ? Volatile.Read(ref owner._generation) : 0;

    private bool Wanted(Meter meter)
    {
        if (_options.IncludeRuntimeMetrics && meter.Name == RuntimeMeterName)
        {
            return true;
        }

        foreach (var prefix in _options.MeterPrefixes)
        {
            if (meter.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!Wanted(instrument.Meter))
        {
            return;
        }

        var export = CreateExport(instrument);
        if (export is null)
        {
            return;
        }

        lock (_gate)
        {
            if (ReservedNames.Contains(export.FamilyName) || _families.ContainsKey(export.FamilyName))
            {
                HostingLog.MetricNameConflict(_logger, instrument.Name, instrument.Meter.Name, export.FamilyName);
                return;
            }

            _families.Add(export.FamilyName, export);
            _byInstrument[instrument] = export;
        }

        export.Owner = this;
        export.LimitReached = e => HostingLog.SeriesLimitReached(_logger, e.Instrument.Name, _options.MaxSeriesPerInstrument);
        listener.EnableMeasurementEvents(instrument, export);
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        lock (_gate)
        {
            if (_byInstrument.Remove(instrument, out var export))
            {
                _families.Remove(export.FamilyName);
            }
        }
    }

    private InstrumentExport? CreateExport(Instrument instrument)
    {
        var name = PrometheusText.MetricName(instrument.Name);
        var max = _options.MaxSeriesPerInstrument;
        var kind = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : null;
        if (kind == typeof(Counter<>))
        {
            return new SumExport(instrument, CounterName(name), "counter", max);
        }

        if (kind == typeof(UpDownCounter<>))
        {
            return new SumExport(instrument, PrometheusText.GaugeName(name, instrument.Unit), "gauge", max);
        }

        if (kind == typeof(ObservableCounter<>) && !GoesDown(instrument))
        {
            return new LastValueExport(instrument, CounterName(name), "counter", max, observable: true);
        }

        if (kind == typeof(ObservableCounter<>) || kind == typeof(ObservableUpDownCounter<>) || kind == typeof(ObservableGauge<>))
        {
            return new LastValueExport(instrument, PrometheusText.GaugeName(name, instrument.Unit), "gauge", max, observable: true);
        }

        if (kind == typeof(Gauge<>))
        {
            return new LastValueExport(instrument, PrometheusText.GaugeName(name, instrument.Unit), "gauge", max, observable: false);
        }

        if (kind == typeof(Histogram<>))
        {
            return new HistogramExport(instrument, name, BucketsFor(instrument), max);
        }

        return null;
    }

    /// <summary>
    /// Instruments the runtime declares as counters although their value falls: the thread pool's thread count and
    /// queue length are snapshots, so as <c>_total</c> counters <c>rate()</c> on them would be wrong.
    /// </summary>
    internal static bool GoesDown(Instrument instrument) =>
        instrument.Meter.Name == RuntimeMeterName && instrument.Name is "dotnet.thread_pool.thread.count" or "dotnet.thread_pool.queue.length";

    private static string CounterName(string name) => name.EndsWith("_total", StringComparison.Ordinal) ? name : name + "_total";

    internal double[] BucketsFor(Instrument instrument)
    {
        if (_options.HistogramBuckets.TryGetValue(instrument.Name, out var configured) && configured.Length > 0)
        {
            return configured;
        }

        var advised = instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
            Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            _ => null,
        };
        if (advised is { Length: > 0 })
        {
            return advised;
        }

        var unit = instrument.Unit ?? "";
        var name = instrument.Name;
        if (unit == "s" || name.EndsWith("_seconds", StringComparison.Ordinal))
        {
            return SecondsBuckets;
        }

        if (unit is "By" or "bytes" || name.EndsWith("_bytes", StringComparison.Ordinal))
        {
            return ByteBuckets;
        }

        return DefaultBuckets;
    }

    private static string BuildInfoLabels()
    {
        var assembly = Assembly.GetEntryAssembly() ?? typeof(PrometheusExporter).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "unknown";
        var sb = new StringBuilder();
        sb.Append("version=\"");
        PrometheusText.AppendLabelValue(sb, version);
        sb.Append("\",runtime=\"");
        PrometheusText.AppendLabelValue(sb, RuntimeInformation.FrameworkDescription);
        sb.Append("\",rid=\"");
        PrometheusText.AppendLabelValue(sb, RuntimeInformation.RuntimeIdentifier);
        sb.Append('"');
        return sb.ToString();
    }
}
