using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EdgeGateway.Soak;

/// <summary>Every record one upstream consumer got, in arrival order (duplicates included), with the arrival time.</summary>
public sealed class Deliveries(string sink)
{
    private readonly Lock _gate = new();
    private readonly List<(long Seq, string Stream, long At)> _arrivals = new(1 << 16);
    private readonly HashSet<long> _seen = [];
    private readonly List<Gap> _gaps = [];

    public string Sink { get; } = sink;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _arrivals.Count;
            }
        }
    }

    public bool Has(long seq)
    {
        lock (_gate)
        {
            return _seen.Contains(seq);
        }
    }

    public void Add(long seq, string stream)
    {
        lock (_gate)
        {
            _arrivals.Add((seq, stream, Stopwatch.GetTimestamp()));
            _seen.Add(seq);
        }
    }

    /// <summary>Gap records this consumer got: they cover evicted records even after the store evicted the gap record too.</summary>
    public List<Gap> Gaps()
    {
        lock (_gate)
        {
            return [.. _gaps];
        }
    }

    private void AddGap(string stream, string payloadJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(payloadJson);
            var p = doc.RootElement;
            if (p.ValueKind == JsonValueKind.Object && p.TryGetProperty("from_seq", out var from) && from.ValueKind == JsonValueKind.Number)
            {
                var gap = new Gap(stream, from.GetInt64(), p.GetProperty("to_seq").GetInt64(),
                    p.TryGetProperty("count", out var c) ? c.GetInt64() : 0, p.TryGetProperty("reason", out var r) ? r.GetString() ?? "" : "");
                lock (_gate)
                {
                    _gaps.Add(gap);
                }
            }
        }
        catch (JsonException)
        {
        }
    }

    public List<(long Seq, string Stream, long At)> Snapshot()
    {
        lock (_gate)
        {
            return [.. _arrivals];
        }
    }

    /// <summary>An MQTT payload as mosquitto_sub prints it (<c>-F %p</c>): the record JSON; the retained status is not a record.</summary>
    public void AddMqttPayload(string line)
    {
        if (!line.StartsWith('{'))
        {
            return;
        }

        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("seq", out var seq) && root.TryGetProperty("stream", out var stream))
            {
                Add(seq.GetInt64(), stream.GetString() ?? "");
                if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "gap" && root.TryGetProperty("payload", out var payload))
                {
                    AddGap(stream.GetString() ?? "", payload.GetRawText());
                }
            }
        }
        catch (JsonException)
        {
        }
    }

    /// <summary>A line of samples/RelayReceiver: <c>{gateway}:{seq} {stream} {kind} {time} {payload}</c>; its log lines are not records.</summary>
    public void AddRelayLine(string line, string gatewayId)
    {
        if (!line.StartsWith(gatewayId + ":", StringComparison.Ordinal))
        {
            return;
        }

        var parts = line.Split(' ', 4);
        if (parts.Length >= 3 && long.TryParse(parts[0].AsSpan(gatewayId.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            Add(seq, parts[1]);
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            if (parts[2] == "gap" && brace > 0)
            {
                AddGap(parts[1], line[brace..]);
            }
        }
    }
}
