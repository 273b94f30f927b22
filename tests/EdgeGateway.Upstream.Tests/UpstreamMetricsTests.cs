using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>The MQTT sink's edge_upstream_* instruments, read the way an exporter reads them (MeterListener).</summary>
public sealed class UpstreamMetricsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    /// <summary>Counters summed and gauges' last value, for sink "mqtt" of this test's meter only.</summary>
    private sealed class Readings : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, double> _sums = new();
        private readonly ConcurrentDictionary<string, double> _last = new();

        public Readings(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
            _listener.Start();
        }

        private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var t in tags)
            {
                if (t.Key == "sink" && (string?)t.Value == "mqtt")
                {
                    if (instrument is Counter<long>)
                    {
                        _sums.AddOrUpdate(instrument.Name, value, (_, old) => old + value);
                    }
                    else
                    {
                        _last[instrument.Name] = value;
                    }
                }
            }
        }

        public double Counter(string name) => _sums.GetValueOrDefault(name);

        /// <summary>Polls the observable gauges now and returns the value for the sink.</summary>
        public double Gauge(string name)
        {
            _listener.RecordObservableInstruments();
            return _last.TryGetValue(name, out var v) ? v : double.NaN;
        }

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task Connected_reconnects_inflight_acked_and_lag_follow_the_link()
    {
        await using var broker = await Mosquitto.StartAsync();
        await using var proxy = new FaultProxy(broker.Port);
        using var readings = new Readings(_metrics.Meter);
        var options = new MqttSinkOptions
        {
            Enabled = true,
            Port = proxy.Port,
            ClientId = "edgegw-metrics-" + Guid.NewGuid().ToString("N")[..8],
            StatusTopic = "",
            KeepAlive = TimeSpan.FromSeconds(60),
            AckTimeout = TimeSpan.FromSeconds(60),
            Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) },
        };
        await using var sink = new MqttSink(options, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics);
        Assert.Equal(0, readings.Gauge("edge_upstream_connected"));
        sink.Start();
        await TaskTimeouts.Eventually(() => readings.Gauge("edge_upstream_connected") == 1, "edge_upstream_connected is 1");
        await using var rig = new BufferRig(sink, _logs, f => f.AckTimeout = TimeSpan.FromSeconds(60));

        for (var i = 1; i <= 50; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => readings.Counter("edge_upstream_acked_records") == 50,
            () => $"edge_upstream_acked_records reaches 50 (is {readings.Counter("edge_upstream_acked_records")})");
        Assert.Equal(0, readings.Gauge("edge_upstream_inflight_records"));
        Assert.Equal(0, readings.Gauge("edge_upstream_lag_seconds"));
        Assert.Equal(0, readings.Counter("edge_upstream_reconnects"));

        // PUBACKs lost: records stay in flight and the oldest one ages.
        proxy.Mode = ProxyMode.DropToClient;
        for (var i = 51; i <= 60; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => readings.Gauge("edge_upstream_inflight_records") == 10,
            () => $"edge_upstream_inflight_records is 10 (is {readings.Gauge("edge_upstream_inflight_records")})");
        await TaskTimeouts.Eventually(() => readings.Gauge("edge_upstream_lag_seconds") >= 1,
            () => $"edge_upstream_lag_seconds grows past 1 s (is {readings.Gauge("edge_upstream_lag_seconds")})");
        Assert.Equal(50, readings.Counter("edge_upstream_acked_records"));

        // Link down: connected drops to 0; back up: one reconnect, the ten are resent and acknowledged, lag back to 0.
        proxy.Refuse = true;
        proxy.Cut();
        await TaskTimeouts.Eventually(() => readings.Gauge("edge_upstream_connected") == 0, "edge_upstream_connected drops to 0");
        proxy.Mode = ProxyMode.Forward;
        proxy.Refuse = false;
        await TaskTimeouts.Eventually(() => readings.Gauge("edge_upstream_connected") == 1, "edge_upstream_connected is 1 again");
        // The forwarder's resend may race the client's own republish, so a record can be acknowledged twice: >= 60.
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last && readings.Counter("edge_upstream_acked_records") >= 60
                && readings.Gauge("edge_upstream_inflight_records") == 0,
            () => $"all 60 acknowledged (acked {readings.Counter("edge_upstream_acked_records")}, inflight {readings.Gauge("edge_upstream_inflight_records")})");
        Assert.Equal(1, readings.Counter("edge_upstream_reconnects"));
        Assert.Equal(0, readings.Gauge("edge_upstream_lag_seconds"));
        Assert.True(readings.Counter("edge_upstream_sent_records") >= 60, $"sent {readings.Counter("edge_upstream_sent_records")}");
        Assert.Equal(0, readings.Gauge("edge_upstream_dead_letter_records"));
        _logs.AssertNoUnexpectedErrors();
    }

    public void Dispose() => _metrics.Dispose();
}
