using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeGateway.Health;
using EdgeGateway.Records;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Drones.Tello;

/// <summary>
/// All configured Tello drones behind ONE command socket and ONE state socket, demultiplexed by
/// source IP; command replies must also come from the drone's command port (its configured address). Owns the sockets, the receive loops, the supervisor (health, reconnect, keepalive)
/// and each drone's command worker.
/// </summary>
public sealed class TelloFleet : IDroneFleet, IAsyncDisposable
{
    private const int ReceiveBufferBytes = 65536;
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);

    private readonly DroneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LoopHeartbeatRegistry? _heartbeats;
    private readonly List<TelloLink> _links = [];
    private readonly Dictionary<IPAddress, TelloLink> _byAddress = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private readonly Lock _startGate = new();
    private Socket? _commandSocket;
    private Socket? _stateSocket;
    private LoopHeartbeat? _heartbeat;
    private LoopHeartbeat? _commandReceiveBeat;
    private LoopHeartbeat? _stateReceiveBeat;
    private long _lastUnknownLogTs;
    private long _lastBadLogTs;
    private long _lastWrongPortLogTs;
    private int _state; // 0 new, 1 started, 2 stopped

    public TelloFleet(DroneOptions options, IRecordWriter records, IWallClock wallClock, TimeProvider time,
        ILoggerFactory loggerFactory, IMeterFactory? meterFactory = null, LoopHeartbeatRegistry? heartbeats = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(wallClock);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var problems = options.Validate(DroneOptions.SectionName).ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid drone options:\n" + string.Join("\n", problems), nameof(options));
        }

        _options = options;
        Records = records;
        WallClock = wallClock;
        _time = time;
        _heartbeats = heartbeats;
        _logger = loggerFactory.CreateLogger("EdgeGateway.Drones.Tello");
        foreach (var item in options.Items)
        {
            if (!DroneOptions.TryParseAddress(item.Address, out var endpoint))
            {
                throw new ArgumentException($"Drone address \"{item.Address}\" is not HOST[:PORT]", nameof(options));
            }

            var address = Normalize(endpoint.Address);
            var link = new TelloLink(this, item.Id, new IPEndPoint(address, endpoint.Port), options, time, _logger);
            _links.Add(link);
            _byAddress[address] = link;
        }

        Drones = [.. _links];
        Metrics = new DroneMetrics(meterFactory, () => _links.Select(l =>
            new Measurement<int>((int)l.Health, new KeyValuePair<string, object?>("drone", l.Id))));
    }

    public IReadOnlyList<IDroneLink> Drones { get; }

    /// <summary>What was ignored or counted so far (the same numbers the meter reports).</summary>
    public DroneLinkCounters Counters { get; } = new();

    /// <summary>The bound command socket endpoint (after <see cref="StartAsync"/>); useful with port 0.</summary>
    public IPEndPoint? CommandEndPoint => _commandSocket?.LocalEndPoint as IPEndPoint;

    /// <summary>The bound state socket endpoint (after <see cref="StartAsync"/>).</summary>
    public IPEndPoint? StateEndPoint => _stateSocket?.LocalEndPoint as IPEndPoint;

    internal IRecordWriter Records { get; }

    internal IWallClock WallClock { get; }

    internal DroneMetrics Metrics { get; }

    /// <summary>Where each drone's command worker registers its heartbeat; null without a watchdog.</summary>
    internal LoopHeartbeatRegistry? Heartbeats => _heartbeats;

    internal TimeProvider Time => _time;

    public IDroneLink? Find(string droneId) => _links.FirstOrDefault(l => string.Equals(l.Id, droneId, StringComparison.Ordinal));

    /// <summary>Binds both sockets and starts the loops. Throws <see cref="DronePortInUseException"/> when a port is taken.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_startGate)
        {
            ObjectDisposedException.ThrowIf(_state == 2, this);
            if (_state == 1)
            {
                return Task.CompletedTask;
            }

            if (_links.Count == 0)
            {
                _state = 1;
                return Task.CompletedTask; // nothing to talk to: bind nothing
            }

            var local = IPAddress.Parse(_options.LocalAddress);
            try
            {
                _commandSocket = Bind(local, _options.CommandPort, $"{DroneOptions.SectionName}:{nameof(DroneOptions.CommandPort)}");
                _stateSocket = Bind(local, _options.StatePort, $"{DroneOptions.SectionName}:{nameof(DroneOptions.StatePort)}");
            }
            catch
            {
                _commandSocket?.Dispose();
                _commandSocket = null;
                throw;
            }

            _state = 1;
            var ct = _stopping.Token;
            _heartbeat = _heartbeats?.Register("drones.supervisor", HeartbeatWait.MaxSilence);
            // The receive loops beat per datagram and, while no datagram comes, once per HeartbeatWait.Slice.
            var commandBeat = _commandReceiveBeat = _heartbeats?.Register("drones.receive.command", HeartbeatWait.MaxSilence);
            var stateBeat = _stateReceiveBeat = _heartbeats?.Register("drones.receive.state", HeartbeatWait.MaxSilence);
            var command = _commandSocket;
            var state = _stateSocket;
            _loops.Add(Task.Run(() => ReceiveLoopAsync(command, isState: false, commandBeat, ct), CancellationToken.None));
            _loops.Add(Task.Run(() => ReceiveLoopAsync(state, isState: true, stateBeat, ct), CancellationToken.None));
            _loops.Add(Task.Run(() => SupervisorLoopAsync(ct), CancellationToken.None));
            foreach (var link in _links)
            {
                link.Start(ct);
            }

            TelloLog.Listening(_logger, CommandEndPoint!.ToString(), StateEndPoint!.ToString(), _links.Count);
        }

        return Task.CompletedTask;
    }

    /// <summary>Lands airborne drones (best effort), stops the loops and closes the sockets so a restart can bind again.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_startGate)
        {
            if (_state == 2)
            {
                return;
            }

            _state = 2;
        }

        if (_options.LandOnShutdown)
        {
            foreach (var link in _links)
            {
                link.SendLandIfFlying();
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var link in _links)
        {
            await link.StopAsync().ConfigureAwait(false);
        }

        _commandSocket?.Dispose();
        _stateSocket?.Dispose();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Sockets are closed; loops end on their own.
        }

        foreach (var beat in new[] { _heartbeat, _commandReceiveBeat, _stateReceiveBeat })
        {
            if (beat is not null)
            {
                _heartbeats?.Unregister(beat);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        Metrics.Dispose();
    }

    internal bool Send(TelloLink link, string text)
    {
        var socket = _commandSocket;
        if (socket is null)
        {
            return false;
        }

        try
        {
            socket.SendTo(Encoding.ASCII.GetBytes(text), link.EndPoint);
            TelloLog.Sent(_logger, link.Id, text);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            TelloLog.SendFailed(_logger, link.Id, text, ex);
            return false;
        }
    }

    private static Socket Bind(IPAddress local, int port, string configKey)
    {
        var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // No SO_REUSEADDR: a second gateway on the same port must fail, not share the datagrams.
            socket.Bind(new IPEndPoint(local, port));
            return socket;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            socket.Dispose();
            throw new DronePortInUseException(local.ToString(), port, configKey, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private async Task ReceiveLoopAsync(Socket socket, bool isState, LoopHeartbeat? beat, CancellationToken ct)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferBytes);
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var channel = isState ? "state" : "command";
        while (!ct.IsCancellationRequested)
        {
            try
            {
                beat?.Beat();
                var receive = socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct);
                // Idle is healthy: beat while waiting. The receive ends by itself on ct or when the socket closes.
                var received = receive.IsCompleted || beat is null
                    ? await receive.ConfigureAwait(false)
                    : await HeartbeatWait.WaitAsync(receive.AsTask(), beat, _time).ConfigureAwait(false);
                // Nothing here awaits: parsing, matching and TryWrite are all synchronous and bounded.
                Dispatch(buffer.AsSpan(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint, isState, channel);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                // ICMP port-unreachable (Windows) or an oversize datagram: nothing to do.
            }
            catch (Exception ex)
            {
                TelloLog.LoopFailed(_logger, channel + " receive", ex);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> datagram, IPEndPoint source, bool isState, string channel)
    {
        if (!_byAddress.TryGetValue(Normalize(source.Address), out var link))
        {
            var count = Counters.IncUnknownSource();
            Metrics.Bad(channel, "unknown_source");
            if (ShouldLog(ref _lastUnknownLogTs))
            {
                TelloLog.UnknownSource(_logger, count, channel, source.ToString());
            }

            return;
        }

        if (isState)
        {
            var result = StateDatagramParser.TryParse(datagram, out var state);
            if (result == StateParseResult.Ok)
            {
                link.OnState(state!);
                return;
            }

            var reason = result.ToString().ToLowerInvariant();
            var total = result == StateParseResult.Binary ? Counters.IncBinary() : Counters.IncBadState();
            Metrics.Bad(channel, reason);
            if (ShouldLog(ref _lastBadLogTs))
            {
                TelloLog.BadDatagram(_logger, channel, link.Id, reason, datagram.Length, total);
            }

            return;
        }

        if (source.Port != link.EndPoint.Port)
        {
            // The drone answers from the port it was sent to. Anything else from its IP (another program on a
            // shared host, or a spoofed "error"/"ok" from a neighbour faking the IP) must not resolve a command.
            var spoofed = Counters.IncWrongPortReply();
            link.CountWrongPortReply();
            Metrics.Bad(channel, "wrong_source_port");
            if (ShouldLog(ref _lastWrongPortLogTs))
            {
                TelloLog.WrongSourcePort(_logger, spoofed, link.Id, source.ToString(), link.EndPoint.Port);
            }

            return;
        }

        if (!TelloText.TryDecode(datagram, out var reply) || reply.Length == 0)
        {
            // Binary 0xCC app-protocol packets show up on 8889; they are never replies.
            var total = Counters.IncBinary();
            Metrics.Bad(channel, "binary");
            if (ShouldLog(ref _lastBadLogTs))
            {
                TelloLog.BadDatagram(_logger, channel, link.Id, "binary", datagram.Length, total);
            }

            return;
        }

        link.OnReply(reply);
    }

    private bool ShouldLog(ref long lastTs)
    {
        var last = Interlocked.Read(ref lastTs);
        if (last != 0 && _time.GetElapsedTime(last) < LogEvery)
        {
            return false;
        }

        return Interlocked.CompareExchange(ref lastTs, Math.Max(1, _time.GetTimestamp()), last) == last;
    }

    private async Task SupervisorLoopAsync(CancellationToken ct)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(_options.DegradedAfter.Ticks / 5,
            TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromMilliseconds(200).Ticks));
        using var timer = new PeriodicTimer(period, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                _heartbeat?.Beat();
                foreach (var link in _links)
                {
                    try
                    {
                        link.Tick();
                    }
                    catch (Exception ex)
                    {
                        TelloLog.LoopFailed(_logger, "supervisor " + link.Id, ex);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutdown.
        }
    }
}
