using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Gpsd;
using EdgeGateway.Sensors.Sources;
using Xunit.Abstractions;

namespace EdgeGateway.Sensors.Tests;

/// <summary>The gpsd report parser on bad input, and the gpsd source when gpsd goes away mid-stream.</summary>
public sealed class GpsdTests(ITestOutputHelper output)
{
    private const string GoodSky = """{"class":"SKY","hdop":0.94,"pdop":1.65,"vdop":1.36,"satellites":[{"PRN":2,"used":true},{"PRN":5,"used":true},{"PRN":7,"used":false}]}""";
    private const string GoodTpv = """{"class":"TPV","mode":3,"status":1,"time":"2024-05-14T10:15:01.000Z","lat":47.397769,"lon":8.545647,"altMSL":488.5,"speed":5.0,"track":53.13}""";

    private static CollectingSink Feed(params string[] lines)
    {
        var sink = new CollectingSink();
        var driver = new GpsdDriver();
        foreach (var line in lines)
        {
            driver.Push(Encoding.UTF8.GetBytes(line + "\n"), sink);
        }

        return sink;
    }

    [Theory]
    [InlineData("not json", "invalid_json")]
    [InlineData("""{"class":"TPV","mode":3,"lat":47.3""", "invalid_json")]
    [InlineData("""{"class":"TPV"}{"class":"SKY"}""", "invalid_json")]
    [InlineData("""{"class":"ERROR","message":"Unrecognized request '?WATCH'"}""", "gpsd_error")]
    [InlineData("[1,2,3]", "invalid_report")]
    [InlineData("""{"mode":3,"lat":47.3}""", "invalid_report")]
    [InlineData("""{"class":3}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":3,"time":"2024-05-14T10:15:01.000Z","lat":"47.397769","lon":8.545647}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":"3","time":"2024-05-14T10:15:01.000Z","lat":47.397769,"lon":8.545647}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":3.5,"lat":47.397769,"lon":8.545647}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":3,"time":1715681701,"lat":47.397769,"lon":8.545647}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":3,"time":"yesterday","lat":47.397769,"lon":8.545647}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":3,"time":"2024-05-14T10:15:01.000Z","lat":147.0,"lon":8.545647}""", "invalid_report")]
    [InlineData("""{"class":"TPV","mode":3,"time":"2024-05-14T10:15:01.000Z","lat":47.0,"lon":8.5,"speed":true}""", "invalid_report")]
    [InlineData("""{"class":"SKY","hdop":"0.9"}""", "invalid_report")]
    [InlineData("""{"class":"SKY","satellites":{"PRN":2,"used":true}}""", "invalid_report")]
    [InlineData("""{"class":"SKY","uSat":"12"}""", "invalid_report")]
    public void Bad_gpsd_report_is_rejected_with_its_reason(string line, string reason)
    {
        var sink = Feed(line);
        Assert.Equal([reason], sink.Rejected);
        Assert.Empty(sink.Readings);
        Assert.Empty(sink.Ignored);
    }

    [Fact]
    public void Over_long_gpsd_line_is_rejected_and_the_next_report_still_parses()
    {
        var huge = """{"class":"TPV","device":" """ + new string('x', GpsdDriver.MaxReportLength + 10) + "\"}";
        var sink = Feed(huge, GoodTpv);
        Assert.Equal(["line_too_long"], sink.Rejected);
        Assert.Single(sink.Readings);
    }

    [Fact]
    public void Bad_reports_change_nothing_and_good_ones_around_them_still_give_the_right_fix()
    {
        var sink = Feed(
            """{"class":"VERSION","release":"3.25","proto_major":3,"proto_minor":15}""",
            GoodSky,
            """{"class":"SKY","hdop":9.9,"pdop":9.9,"satellites":"none"}""", // rejected: must not overwrite the good SKY
            """{"class":"TPV","mode":3,"time":"2024-05-14T10:15:00.000Z","lat":"oops","lon":8.5}""",
            GoodTpv);
        Assert.Equal(["invalid_report", "invalid_report"], sink.Rejected);
        Assert.Equal(["gpsd_report"], sink.Ignored);
        var fix = Assert.IsType<GpsReading>(Assert.Single(sink.Readings)).Fix;
        Assert.Equal(47.397769, fix.LatitudeDeg);
        Assert.Equal(8.545647, fix.LongitudeDeg);
        Assert.Equal(488.5, fix.AltitudeMslM);
        Assert.Equal(new DateTimeOffset(2024, 5, 14, 10, 15, 1, TimeSpan.Zero), fix.UtcTime);
        Assert.True(fix.TimeValid);
        Assert.Equal(0.94, fix.Hdop);
        Assert.Equal(1.65, fix.Pdop);
        Assert.Equal(2, fix.SatellitesUsed);
        Assert.Equal(3, fix.SatellitesInView);
    }

    [Fact]
    public void Null_fields_mean_not_known_not_a_bad_report()
    {
        var sink = Feed("""{"class":"TPV","mode":1,"time":null,"lat":null,"lon":null}""");
        Assert.Empty(sink.Rejected);
        var fix = Assert.IsType<GpsReading>(Assert.Single(sink.Readings)).Fix;
        Assert.False(fix.HasFix);
        Assert.False(fix.TimeValid);
    }

    [Fact]
    public async Task Gpsd_stopping_mid_stream_is_reported_and_the_source_reconnects_when_it_is_back()
    {
        var port = FreePort.Tcp();
        var gpsd = FakeGpsd.Start(port);
        await using var host = await SensorHost.StartAsync(output, new Dictionary<string, string?>
        {
            ["Sensors:ReopenMinDelay"] = "00:00:00.200",
            ["Sensors:ReopenMaxDelay"] = "00:00:00.500",
            ["Sensors:Items:0:Id"] = "gpsd0",
            ["Sensors:Items:0:Type"] = "gpsd",
            ["Sensors:Items:0:Port"] = port.ToString(CultureInfo.InvariantCulture),
        });
        try
        {
            await TaskTimeouts.Eventually(() => host.Sensor("gpsd0").Readings >= 3, "readings from the running gpsd");
            Assert.Equal(SensorLinkState.Open, host.Sensor("gpsd0").Link);
            Assert.Contains("?WATCH={\"enable\":true,\"json\":true};", gpsd.Received, StringComparison.Ordinal);

            await gpsd.DisposeAsync(); // gpsd stops: the connection closes, nothing listens any more
            await TaskTimeouts.Eventually(() => host.Sensor("gpsd0").Link == SensorLinkState.Disconnected
                && host.Sensor("gpsd0").Summary.Contains("connection refused", StringComparison.Ordinal), "the loss reported");
            var lost = host.Sensor("gpsd0");
            Assert.Equal(EdgeGateway.Health.HealthState.Unhealthy, lost.State);
            Assert.Contains($"Cannot connect to gpsd at 127.0.0.1:{port}", lost.Summary, StringComparison.Ordinal);
            Assert.Contains(host.Logs.Entries, e => e.Id.Id == 7003 && e.Message.Contains("(gpsd closed the connection)", StringComparison.Ordinal));
            Assert.Equal(0, lost.Reconnects);

            gpsd = FakeGpsd.Start(port); // gpsd is back
            await TaskTimeouts.Eventually(() => host.Sensor("gpsd0").Readings >= lost.Readings + 3, "readings again after gpsd came back");
            var back = host.Sensor("gpsd0");
            Assert.Equal(SensorLinkState.Open, back.Link);
            Assert.Equal(1, back.Reconnects);
            Assert.Contains("?WATCH=", gpsd.Received, StringComparison.Ordinal); // the watch is sent again on the new connection
        }
        finally
        {
            await gpsd.DisposeAsync();
        }
    }

    /// <summary>A minimal gpsd on a TCP port: answers ?WATCH with VERSION, then a TPV every 100 ms.</summary>
    private sealed class FakeGpsd : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly StringBuilder _received = new();
        private readonly List<TcpClient> _clients = [];
        private int _disposed;

        private FakeGpsd(int port)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true); // rebinding after a stop
            _listener.Start();
            _loop = Task.Run(AcceptLoop);
        }

        public string Received
        {
            get
            {
                lock (_received)
                {
                    return _received.ToString();
                }
            }
        }

        public static FakeGpsd Start(int port) => new(port);

        private async Task AcceptLoop()
        {
            var serving = new List<Task>();
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_clients)
                    {
                        _clients.Add(client);
                    }

                    serving.Add(Serve(client));
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            await Task.WhenAll(serving);
        }

        private async Task Serve(TcpClient client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[256];
                var n = await stream.ReadAsync(buffer, _stop.Token);
                lock (_received)
                {
                    _received.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                await stream.WriteAsync("{\"class\":\"VERSION\",\"release\":\"3.25\",\"proto_major\":3,\"proto_minor\":15}\n"u8.ToArray(), _stop.Token);
                var t = new DateTimeOffset(2024, 5, 14, 10, 15, 0, TimeSpan.Zero);
                for (var i = 0; !_stop.IsCancellationRequested; i++)
                {
                    var tpv = $"{{\"class\":\"TPV\",\"mode\":3,\"time\":\"{t.AddSeconds(i):yyyy-MM-ddTHH:mm:ss.fffZ}\",\"lat\":47.3977,\"lon\":8.5456,\"altMSL\":488.0}}\n";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(tpv), _stop.Token);
                    await Task.Delay(100, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1)
            {
                return;
            }

            await _stop.CancelAsync();
            _listener.Stop();
            await _loop.WithTimeout();
            lock (_clients)
            {
                foreach (var c in _clients)
                {
                    try
                    {
                        c.Client.Shutdown(SocketShutdown.Both); // an orderly close, as gpsd does when it exits
                    }
                    catch (SocketException)
                    {
                    }

                    c.Dispose();
                }
            }

            _stop.Dispose();
        }
    }
}
