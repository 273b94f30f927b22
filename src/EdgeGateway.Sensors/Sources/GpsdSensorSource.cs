using System.Net.Sockets;
using EdgeGateway.Health;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Gpsd;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.Sources;

/// <summary>
/// GPS through gpsd, for set-ups where gpsd already owns the receiver: TCP to gpsd (2947 by default),
/// <c>?WATCH</c> for JSON, TPV/SKY into the same records as the NMEA driver; reconnects with backoff.
/// </summary>
internal sealed class GpsdSensorSource(string id, string host, int port, SensorEntry entry, SensorRecorder recorder,
    TimeSpan minDelay, TimeSpan maxDelay, TimeProvider time, LoopHeartbeatRegistry? heartbeats, ILogger logger, SensorMetrics metrics)
    : ReconnectingSensorSource(id, entry, recorder, minDelay, maxDelay, time, heartbeats, logger)
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    protected override string Endpoint => $"gpsd at {host}:{port}";

    protected override async Task<(Stream? Stream, string? Failure, string Settings)> OpenAsync(CancellationToken cancellationToken)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ConnectTimeout);
            await client.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            var stream = new OwningNetworkStream(client);
            await stream.WriteAsync(GpsdDriver.WatchCommand, cancellationToken).ConfigureAwait(false);
            SensorsLog.GpsdConnected(Logger, Id, $"{host}:{port}");
            return (stream, null, "JSON watch");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            return Fail("no answer within 5 s: is the host right and port 2947 open?");
        }
        catch (SocketException ex)
        {
            client.Dispose();
            return Fail(ex.SocketErrorCode == SocketError.ConnectionRefused
                ? "connection refused: is gpsd running (systemctl status gpsd gpsd.socket) and listening on this address?"
                : ex.Message);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        (Stream?, string?, string) Fail(string why)
        {
            metrics.OpenFailures.Add(1, new KeyValuePair<string, object?>("sensor", Id), new KeyValuePair<string, object?>("error", "gpsd"));
            return (null, $"Cannot connect to gpsd at {host}:{port}: {why}", "");
        }
    }

    protected override ISensorDriver CreateDriver() => new GpsdDriver();

    protected override string DisconnectReason(Stream stream) => "gpsd closed the connection";

    protected override void OnReconnected() => metrics.Reconnects.Add(1, new KeyValuePair<string, object?>("sensor", Id));

    /// <summary>A network stream that also disposes its TcpClient.</summary>
    private sealed class OwningNetworkStream(TcpClient client) : Stream
    {
        private readonly NetworkStream _inner = client.GetStream();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => _inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _inner.WriteAsync(buffer, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                client.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
