using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EdgeGateway.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>
/// Fan-out to WebSocket clients. Publishing serializes once and hands the bytes to one dedicated
/// fan-out thread (latest-wins per slot there too, so a publisher never waits and a burst costs one
/// pass), which offers them to every client: an idle client gets the frame sent at once, a busy one
/// through its bounded queue. Fan-out stays off the thread pool, so HTTP and WebSocket commands
/// (emergency) do not queue behind a thousand sends. A sweep on the injected clock drops clients
/// stuck in a send and clients idle past the configured timeout.
/// </summary>
internal sealed class LocalHub : ILocalHub, IHealthReporter, IDisposable
{
    /// <summary>Items waiting for the fan-out thread: one per pending latest-wins slot plus queued-channel messages.</summary>
    internal const int FanOutCapacity = 4096;

    private readonly ConcurrentDictionary<string, HubDelivery> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Channel, string? Source), int> _slots = new();
    private readonly Lock _clientsGate = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LocalApiLimitOptions _limits;
    private readonly ITimer _sweep;
    private readonly Channel<FanOutItem> _work;
    private readonly Lock _pendingGate = new();
    private readonly Thread _fanOut;
    private ReadOnlyMemory<byte>?[] _pending = new ReadOnlyMemory<byte>?[4];
    private HubClient[] _clients = [];
    private int _nextSlot;
    private long _slowDisconnects;
    private long _fanOutDropped;

    /// <summary>A slot (latest-wins; its frame is in <see cref="_pending"/>) or a queued message (Slot -1).</summary>
    private readonly record struct FanOutItem(string Channel, string? SourceId, int Slot, ReadOnlyMemory<byte> Frame);

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
        _work = Channel.CreateBounded<FanOutItem>(new BoundedChannelOptions(FanOutCapacity)
        {
            // Never wait: TryWrite fails only if the fan-out thread is thousands of messages behind; counted and logged.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _fanOut = new Thread(FanOutLoop) { IsBackground = true, Name = "hub fan-out" };
        _fanOut.Start();
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
        PublishUtf8(channel, sourceId, JsonSerializer.SerializeToUtf8Bytes(message));
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

        if (delivery == HubDelivery.Queued)
        {
            Enqueue(new FanOutItem(channel, sourceId, -1, utf8Message));
            return;
        }

        var slot = _slots.GetOrAdd((channel, sourceId), _ => Interlocked.Increment(ref _nextSlot) - 1);
        bool waiting;
        lock (_pendingGate)
        {
            if (slot >= _pending.Length)
            {
                Array.Resize(ref _pending, Math.Max(slot + 1, _pending.Length * 2));
            }

            waiting = _pending[slot] is not null;
            _pending[slot] = utf8Message;
        }

        if (waiting)
        {
            // The fan-out thread has not reached the older one yet: no client will see it.
            Metrics.Superseded.Add(clients.Length);
        }
        else
        {
            Enqueue(new FanOutItem(channel, sourceId, slot, default));
        }
    }

    /// <summary>Messages the fan-out thread could not take (it was <see cref="FanOutCapacity"/> items behind).</summary>
    public long FanOutDropped => Interlocked.Read(ref _fanOutDropped);

    private void Enqueue(FanOutItem item)
    {
        if (!_work.Writer.TryWrite(item) && !_work.Reader.Completion.IsCompleted)
        {
            if (Interlocked.Increment(ref _fanOutDropped) == 1)
            {
                _logger.FanOutBehind(item.Channel, FanOutCapacity);
            }

            if (item.Slot >= 0)
            {
                lock (_pendingGate)
                {
                    _pending[item.Slot] = null;
                }
            }
        }
    }

    private void FanOutLoop()
    {
        // Commands first: on a saturated core the fan-out yields to the threads serving requests.
        FanOutThreadPriority.TryLowerCurrentThread();
        var reader = _work.Reader;
        while (true)
        {
            while (reader.TryRead(out var item))
            {
                Deliver(item);
            }

            var more = reader.WaitToReadAsync();
            if (!(more.IsCompleted ? more.Result : more.AsTask().GetAwaiter().GetResult()))
            {
                return;
            }
        }
    }

    private void Deliver(FanOutItem item)
    {
        try
        {
            var frame = item.Frame;
            var delivery = HubDelivery.Queued;
            if (item.Slot >= 0)
            {
                delivery = HubDelivery.LatestWins;
                lock (_pendingGate)
                {
                    frame = _pending[item.Slot] ?? default;
                    _pending[item.Slot] = null;
                }

                if (frame.IsEmpty)
                {
                    return;
                }
            }

            foreach (var c in Volatile.Read(ref _clients))
            {
                c.Offer(item.Channel, item.SourceId, item.Slot, frame, delivery);
            }
        }
        catch (Exception e)
        {
            _logger.PublishFailed(item.SourceId ?? item.Channel, e);
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

    public void Dispose()
    {
        _sweep.Dispose();
        _work.Writer.TryComplete();
        _fanOut.Join(TimeSpan.FromSeconds(5));
    }
}
