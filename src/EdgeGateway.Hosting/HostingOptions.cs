using EdgeGateway.Options;

namespace EdgeGateway.Hosting;

/// <summary>Options for systemd notify, /metrics and /healthz (configuration section <c>Hosting</c>).</summary>
public sealed class HostingOptions : IValidatedOptions
{
    public const string SectionName = "Hosting";

    /// <summary>How often the systemd STATUS= line is refreshed, in seconds (1-3600).</summary>
    public double StatusIntervalSeconds { get; set; } = 5;

    /// <summary>Meters whose name starts with one of these prefixes are exported on /metrics.</summary>
    public List<string> MeterPrefixes { get; set; } = ["EdgeGateway."];

    /// <summary>Also export the runtime's own "System.Runtime" meter (GC, thread pool, JIT); cheap observable gauges.</summary>
    public bool IncludeRuntimeMetrics { get; set; } = true;

    /// <summary>Label sets kept per instrument (1-100000); new label sets beyond this are dropped and logged once.</summary>
    public int MaxSeriesPerInstrument { get; set; } = 1000;

    /// <summary>
    /// Histogram bucket upper bounds per instrument name (the name as created, e.g. <c>edge_api_request_duration_seconds</c>),
    /// strictly increasing and finite. Instruments not listed use their own advice, else the defaults.
    /// </summary>
    public Dictionary<string, double[]> HistogramBuckets { get; set; } = new(StringComparer.Ordinal);

    public TimeSpan StatusInterval => TimeSpan.FromSeconds(StatusIntervalSeconds);

    public IEnumerable<string> Validate(string section)
    {
        if (!(StatusIntervalSeconds >= 1 && StatusIntervalSeconds <= 3600))
        {
            yield return $"{section}:StatusIntervalSeconds: must be a number of seconds from 1 to 3600 (got {StatusIntervalSeconds})";
        }

        if (MaxSeriesPerInstrument is < 1 or > 100_000)
        {
            yield return $"{section}:MaxSeriesPerInstrument: must be an integer from 1 to 100000 (got {MaxSeriesPerInstrument})";
        }

        for (var i = 0; i < MeterPrefixes.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(MeterPrefixes[i]))
            {
                yield return $"{section}:MeterPrefixes:{i}: must be a non-empty meter name prefix such as \"EdgeGateway.\"";
            }
        }

        foreach (var (name, bounds) in HistogramBuckets)
        {
            if (bounds is null || bounds.Length == 0)
            {
                yield return $"{section}:HistogramBuckets:{name}: must list at least one finite bucket upper bound";
                continue;
            }

            for (var i = 0; i < bounds.Length; i++)
            {
                if (!double.IsFinite(bounds[i]))
                {
                    yield return $"{section}:HistogramBuckets:{name}:{i}: must be a finite number (got {bounds[i]}); +Inf is added automatically";
                }
                else if (i > 0 && bounds[i] <= bounds[i - 1])
                {
                    yield return $"{section}:HistogramBuckets:{name}:{i}: bounds must be strictly increasing (got {bounds[i]} after {bounds[i - 1]})";
                }
            }
        }
    }
}
