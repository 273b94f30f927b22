using System.Diagnostics.Metrics;

namespace EdgeGateway.Buffer;

/// <summary>The <c>EdgeGateway.Buffer</c> meter: intake, commits, evictions, store size, per-sink backlog.</summary>
internal sealed class BufferMetrics : IDisposable
{
    public const string MeterName = "EdgeGateway.Buffer";

    private readonly Meter _meter;

    public BufferMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        RecordsIn = _meter.CreateCounter<long>("edge_buffer_records_in", "{record}", "Records offered to the buffer");
        IntakeDropped = _meter.CreateCounter<long>("edge_buffer_intake_dropped_records", "{record}", "Records dropped because the intake was full");
        Committed = _meter.CreateCounter<long>("edge_buffer_records_committed", "{record}", "Records committed to the store");
        Evicted = _meter.CreateCounter<long>("edge_buffer_records_evicted", "{record}", "Records evicted, by reason");
        StoreErrors = _meter.CreateCounter<long>("edge_buffer_store_errors", "{error}", "Failed commits, by kind");
        Quarantined = _meter.CreateCounter<long>("edge_buffer_store_quarantined", "{store}", "Corrupt stores moved aside");
        CommitLatency = _meter.CreateHistogram<double>("edge_buffer_commit_duration_seconds", "s", "Time of one group commit",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        CheckpointLatency = _meter.CreateHistogram<double>("edge_buffer_checkpoint_duration_seconds", "s", "Time of one WAL checkpoint (run by the writer after a commit)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        BatchSize = _meter.CreateHistogram<int>("edge_buffer_commit_batch_records", "{record}", "Records per group commit");
        Sent = _meter.CreateCounter<long>("edge_forwarder_records_sent", "{record}", "Records handed to a sink, by sink");
        Acked = _meter.CreateCounter<long>("edge_forwarder_records_acked", "{record}", "Records acknowledged by a sink, by sink");
        Skipped = _meter.CreateCounter<long>("edge_forwarder_records_downsampled", "{record}", "Records not sent upstream because of downsampling, by sink");
        Rewinds = _meter.CreateCounter<long>("edge_forwarder_rewinds", "{rewind}", "Times a forwarder resent from its cursor, by sink and reason (ack_timeout, nack, disconnect, loop_error)");
    }

    public Counter<long> RecordsIn { get; }
    public Counter<long> IntakeDropped { get; }
    public Counter<long> Committed { get; }
    public Counter<long> Evicted { get; }
    public Counter<long> StoreErrors { get; }
    public Counter<long> Quarantined { get; }
    public Histogram<double> CommitLatency { get; }
    public Histogram<double> CheckpointLatency { get; }
    public Histogram<int> BatchSize { get; }
    public Counter<long> Sent { get; }
    public Counter<long> Acked { get; }
    public Counter<long> Skipped { get; }
    public Counter<long> Rewinds { get; }

    public void ObserveStore(Func<long> fileBytes, Func<IEnumerable<Measurement<long>>> backlogRecords, Func<IEnumerable<Measurement<double>>> backlogAgeSeconds)
    {
        _meter.CreateObservableGauge("edge_buffer_file_size_bytes", fileBytes, "By", "Store size on disk (database + WAL)");
        _meter.CreateObservableGauge("edge_buffer_backlog_records", backlogRecords, "{record}", "Sequences committed but not acknowledged, by sink");
        _meter.CreateObservableGauge("edge_buffer_backlog_age_seconds", backlogAgeSeconds, "s", "Age of the oldest unacknowledged record, by sink");
    }

    public void Dispose() => _meter.Dispose();
}
