using System.Text.Json.Nodes;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>How a channel's messages reach a client that is behind.</summary>
public enum HubDelivery
{
    /// <summary>Only the newest message per (channel, source) waits; an older one is superseded and counted. For states and readings.</summary>
    LatestWins,
    /// <summary>Every message is queued in order; a client whose queue overflows is disconnected. For events.</summary>
    Queued,
}

/// <summary>Well-known channel names.</summary>
public static class HubChannels
{
    public const string StatusUpdates = "status_updates";
    public const string Events = "events";
    public const string Sensors = "sensors";
    public const string Upstream = "upstream";
}

/// <summary>
/// The local fan-out to WebSocket clients. Publishing never waits on a client: each message is
/// serialized once and offered to every subscribed client's bounded queue.
/// </summary>
public interface ILocalHub
{
    /// <summary>Adds a channel clients may subscribe to (idempotent). Built in: status_updates, events, sensors, upstream.</summary>
    void RegisterChannel(string channel, HubDelivery delivery);

    bool HasChannel(string channel);

    /// <summary>
    /// Publishes one message (a JSON object with a <c>type</c>) on a channel. <paramref name="sourceId"/>
    /// (a drone id, a sensor id, or null) is what subscriptions filter on and, for latest-wins channels,
    /// which older message a newer one replaces.
    /// </summary>
    void Publish(string channel, string? sourceId, JsonObject message);

    /// <summary>Same, for a message already serialized to UTF-8 JSON (the caller keeps no reference to mutate it).</summary>
    void PublishUtf8(string channel, string? sourceId, ReadOnlyMemory<byte> utf8Message);

    /// <summary>Open WebSocket connections.</summary>
    int ConnectionCount { get; }
}
