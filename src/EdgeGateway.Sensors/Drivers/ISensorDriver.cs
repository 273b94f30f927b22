namespace EdgeGateway.Sensors.Drivers;

/// <summary>Where a driver puts what it read. Implementations must be cheap and must not block.</summary>
public interface ISensorSink
{
    void OnReading(SensorReading reading);

    /// <summary>Input thrown away as bad (checksum, garbage, too long …); <paramref name="reason"/> is a stable snake_case name.</summary>
    void OnRejected(string reason);

    /// <summary>Valid input this driver does not use (other NMEA sentences); counted, not an error.</summary>
    void OnIgnored(string reason);
}

/// <summary>
/// A device protocol over a <see cref="Stream"/>: the same driver runs on a serial port, a
/// pseudo-terminal or an in-memory pipe. The caller owns the stream.
/// </summary>
public interface ISensorDriver
{
    /// <summary>Reads until the stream ends (returns) or <paramref name="cancellationToken"/> fires (throws).</summary>
    Task RunAsync(Stream stream, ISensorSink sink, CancellationToken cancellationToken);
}

/// <summary>The read loop shared by all drivers: pooled buffer, bytes pushed into a decoder.</summary>
public abstract class StreamSensorDriver : ISensorDriver
{
    private const int BufferSize = 4096;

    public async Task RunAsync(Stream stream, ISensorSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sink);
        Reset();
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                Push(buffer.AsSpan(0, n), sink);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Decodes one chunk. Must never throw on any input.</summary>
    public abstract void Push(ReadOnlySpan<byte> data, ISensorSink sink);

    /// <summary>Forgets partial input (the device was reopened).</summary>
    protected abstract void Reset();
}
