namespace EdgeGateway.Upstream.Relay;

/// <summary>Constants of the WebSocket relay protocol (docs/relay-protocol.md).</summary>
public static class RelayProtocol
{
    /// <summary>The WebSocket subprotocol of version 1; a receiver that does not select it is not spoken to.</summary>
    public const string SubProtocol = "edgegw-relay.v1";

    public const int Version = 1;

    /// <summary>Largest frame a receiver must accept.</summary>
    public const int MaxFrameBytes = 16 * 1024 * 1024;

    /// <summary>Application close code: the token is no longer accepted (the sink backs off long).</summary>
    public const int CloseTokenRevoked = 4001;

    /// <summary>Application close code: the receiver is overloaded; the sink reconnects with backoff.</summary>
    public const int CloseTryLater = 4002;
}
