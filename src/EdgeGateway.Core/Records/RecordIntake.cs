using System.Threading.Channels;

namespace EdgeGateway.Records;

/// <summary>
/// The bounded channel between producers and the record router. Producers never wait:
/// when the channel is full the oldest queued record is dropped (the newest telemetry is
/// worth more than a stale one) and the drop is counted.
/// </summary>
public sealed class RecordIntake : IRecordWriter
{
    private readonly Channel<TelemetryRecord> _channel;
    private long _accepted;
    private long _dropped;

    public RecordIntake(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _channel = Channel.CreateBounded<TelemetryRecord>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = false,
            },
            _ => Interlocked.Increment(ref _dropped));
    }

    public int Capacity { get; }

    /// <summary>Records accepted into the channel (including ones later displaced by overflow).</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Records displaced because the channel was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ChannelReader<TelemetryRecord> Reader => _channel.Reader;

    public bool TryWrite(TelemetryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!_channel.Writer.TryWrite(record))
        {
            return false; // only after Complete()
        }

        Interlocked.Increment(ref _accepted);
        return true;
    }

    /// <summary>No more records will be written (shutdown).</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
