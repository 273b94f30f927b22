namespace EdgeGateway.Buffer.Upstream;

public enum SinkSendResult
{
    /// <summary>Handed to the link; acknowledgements follow through <see cref="ISinkAcknowledger"/>.</summary>
    Sent = 0,
    /// <summary>The link is down; nothing of this batch may be assumed delivered.</summary>
    Disconnected = 1,
    /// <summary>The sink refused the batch (e.g. a record it cannot encode); the forwarder backs off and resends.</summary>
    Failed = 2,
}

/// <summary>Where a sink reports what the upstream confirmed. Thread-safe; may be called from any thread.</summary>
public interface ISinkAcknowledger
{
    /// <summary>The upstream confirmed this record (MQTT PUBACK, relay app-level ack). Any order within the window.</summary>
    void Acknowledge(long sequence);

    /// <summary>The link dropped: every unacknowledged record is resent from the cursor once the sink takes batches again.</summary>
    void ConnectionLost(string reason);
}

/// <summary>
/// An upstream link fed by an <see cref="UpstreamForwarder"/> (MQTT, WebSocket relay). The forwarder calls
/// <see cref="SendAsync"/> with records in sequence order, never more than the configured inflight window
/// unacknowledged; the sink reports acknowledgements, possibly out of order, through the acknowledger.
/// </summary>
public interface IUpstreamSink
{
    /// <summary>Stable name: the key of the persisted cursor and of <c>Buffer:Sinks:&lt;name&gt;</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Hands a batch to the link. Returns quickly (does not wait for acknowledgements); should return
    /// <see cref="SinkSendResult.Disconnected"/> rather than wait long for a link that is down.
    /// </summary>
    ValueTask<SinkSendResult> SendAsync(IReadOnlyList<BufferedRecord> batch, ISinkAcknowledger acks, CancellationToken cancellationToken);
}
