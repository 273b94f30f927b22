using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeGateway.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>
/// Fan-out to WebSocket clients. Publishing serializes once and offers the bytes to each client's
/// bounded queue without waiting; a sweep on the injected clock drops clients stuck in a send
/// and clients idle past the configured timeout.
/// </summary>
internal sealed class LocalHub : ILocalHub, IHealthReporter, IDisposable
{
    private readonly ConcurrentDictionary<string, HubDelivery> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Channel, string? Source), int> _slots = new();
    private readonly Lock _clientsGate = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LocalApiLimitOptions _limits;
    private readonly ITimer _sweep;
    private HubClient[] _clients = [];
    private int _nextSlot;
    private long _slowDisconnects;

    public LocalHub(IOptions<LocalApiOptions> options, TimeProvider time, ILogger<LocalHub> logger, LocalApiMetrics metrics)
    {
        _time = time;
        _logger = logger;
        _limits = options.Value.Limits;
        Metrics = metrics;
        RegisterChannel(HubChannels.StatusUpdates, HubDelivery.LatestWins);
        RegisterChannel(HubChannels.Events, HubDelivery.Queued);
        RegisterChannel(HubChannels.Sensors, HubDelivery.LatestWins);
        RegisterChannel(HubChannels.Upstream, HubDelivery.LatestWins);
        _sweep = time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public LocalApiMetrics Metrics { get; }

    public int ConnectionCount => Volatile.Read(ref _clients).Length;

    public long SlowDisconnects => Interlocked.Read(ref _slowDisconnects);

    public IReadOnlyCollection<string> Channels => [.. _channels.Keys];

    public void RegisterChannel(string channel, HubDelivery delivery)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(channel);
        _channels.TryAdd(channel, delivery);
    }

    public bool HasChannel(string channel) => _channels.ContainsKey(channel);

    public void Publish(string channel, string? sourceId, JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        PublishUtf8(channel, sourceId, JsonOut.Build(w => message.WriteTo(w)));
    }

    public void PublishUtf8(string channel, string? sourceId, ReadOnlyMemory<byte> utf8Message)
    {
        if (!_channels.TryGetValue(channel, out var delivery))
        {
            throw new ArgumentException($"unknown channel \"{channel}\"; register it first", nameof(channel));
        }

        var clients = Volatile.Read(ref _clients);
        if (clients.Length == 0)
        {
            return;
        }

        var slot = delivery == HubDelivery.LatestWins ? _slots.GetOrAdd((channel, sourceId), _ => Interlocked.Increment(ref _nextSlot) - 1) : -1;
        foreach (var c in clients)
        {
            c.Offer(channel, sourceId, slot, utf8Message, delivery);
        }
    }

    /// <summary>An <c>event</c> on the events channel: <c>{"type":"event","event":name,"drone_id",...,"at"}</c>.</summary>
    public void PublishEvent(string? droneId, string name, params (string Key, object? Value)[] fields)
    {
        var frame = JsonOut.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "event");
            w.WriteString("event", name);
            if (droneId is null)
            {
                w.WriteNull("drone_id");
            }
            else
            {
                w.WriteString("drone_id", droneId);
            }

            w.WriteString("at", _time.GetUtcNow().UtcDateTime);
            foreach (var (k, v) in fields)
            {
                JsonOut.WriteValue(w, k, v);
            }

            w.WriteEndObject();
        });
        PublishUtf8(HubChannels.Events, droneId, frame);
    }

    public void Add(HubClient client)
    {
        lock (_clientsGate)
        {
            _clients = [.. _clients, client];
        }

        Metrics.Connections.Add(1);
        Metrics.Accepted.Add(1);
    }

    public void Remove(HubClient client)
    {
        lock (_clientsGate)
        {
            var before = _clients.Length;
            _clients = [.. _clients.Where(c => c != client)];
            if (_clients.Length == before)
            {
                return;
            }
        }

        Metrics.Connections.Add(-1);
        var reason = client.DisconnectReason;
        if (reason == "slow_consumer")
        {
            Interlocked.Increment(ref _slowDisconnects);
        }

        Metrics.Disconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    private void Sweep()
    {
        try
        {
            var slowAfter = TimeSpan.FromSeconds(_limits.SlowClientTimeoutSeconds);
            var idleAfter = _limits.IdleTimeoutSeconds > 0 ? TimeSpan.FromSeconds(_limits.IdleTimeoutSeconds) : TimeSpan.MaxValue;
            foreach (var c in Volatile.Read(ref _clients))
            {
                if (c.CurrentSendAge > slowAfter)
                {
                    // The socket is stuck in a send: no close frame can get through, so abort.
                    _logger.SlowClientDisconnected(c.Id, c.Principal.Identity, $"one send pending for more than {_limits.SlowClientTimeoutSeconds:0.#} s");
                    c.Abort("slow_consumer");
                }
                else if (c.SinceLastReceived > idleAfter)
                {
                    c.RequestClose(1001, "idle timeout", "idle");
                }
            }
        }
        catch (Exception e)
        {
            _logger.PublishFailed("(sweep)", e);
        }
    }

    public IEnumerable<ComponentHealth> Report()
    {
        yield return new ComponentHealth("local_api", HealthState.Healthy, $"{ConnectionCount} WebSocket client(s)",
            new Dictionary<string, object?> { ["connections"] = ConnectionCount, ["slow_disconnects"] = SlowDisconnects });
    }

    public void Dispose() => _sweep.Dispose();
}
