using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeGateway.Drones.Tests;

/// <summary>
/// A scripted drone on real UDP for deterministic protocol tests: replies from its own IP, sends
/// state from its own IP after <c>command</c>, and answers one-shot scripted replies in order.
/// </summary>
internal sealed class FakeTello : IAsyncDisposable
{
    private readonly UdpClient _command;
    private readonly UdpClient _state;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _received = new();
    private readonly List<(string Command, TimeSpan Delay, Task? Hold, string[] Replies)> _script = [];
    private readonly Lock _gate = new();
    private readonly Task _commandLoop;
    private readonly Task _stateLoop;
    private IPEndPoint? _commander;

    public FakeTello(string address)
    {
        Address = IPAddress.Parse(address);
        _command = new UdpClient(new IPEndPoint(Address, 0));
        _state = new UdpClient(new IPEndPoint(Address, 0));
        _commandLoop = Task.Run(CommandLoopAsync);
        _stateLoop = Task.Run(StateLoopAsync);
    }

    public IPAddress Address { get; }

    public IPEndPoint CommandEndPoint => (IPEndPoint)_command.Client.LocalEndPoint!;

    public string AddressText => CommandEndPoint.ToString();

    /// <summary>Where state goes (the fleet's state socket); state flows once this is set and `command` arrived.</summary>
    public IPEndPoint? StateTarget { get; set; }

    public volatile bool SdkMode;
    public volatile string StateText = "mid:-1;x:0;y:0;z:0;mpry:0,0,0;pitch:0;roll:0;yaw:0;vgx:0;vgy:0;vgz:0;templ:40;temph:42;tof:10;h:0;bat:87;baro:17.84;time:0;agx:0.00;agy:0.00;agz:-1000.00;\r\n";
    public string Serial { get; set; } = "0TQDG7BEDB0E9P";
    public string Battery { get; set; } = "87";

    public IReadOnlyList<string> Received => [.. _received];

    public int Count(string command) => _received.Count(c => c == command);

    /// <summary>The next time <paramref name="command"/> arrives, send these replies (none = stay silent) after the delay.</summary>
    public void Next(string command, params string[] replies) => Next(command, TimeSpan.Zero, replies);

    public void Next(string command, TimeSpan delay, params string[] replies)
    {
        lock (_gate)
        {
            _script.Add((command, delay, null, replies));
        }
    }

    /// <summary>The next time <paramref name="command"/> arrives, send these replies once <paramref name="hold"/> completes (no timing race).</summary>
    public void NextHeld(string command, Task hold, params string[] replies)
    {
        lock (_gate)
        {
            _script.Add((command, TimeSpan.Zero, hold, replies));
        }
    }

    private long _silentUntilTicks;

    /// <summary>Silence (no replies, no state) and SDK-mode loss, like a reboot or battery swap; back after `command` once the silence is over.</summary>
    public void Reboot(TimeSpan silence)
    {
        Interlocked.Exchange(ref _silentUntilTicks, Stopwatch.GetTimestamp() + (long)(silence.TotalSeconds * Stopwatch.Frequency));
        SdkMode = false;
    }

    public void SendFromStateSocket(byte[] datagram)
    {
        if (StateTarget is { } target)
        {
            _state.Send(datagram, datagram.Length, target);
        }
    }

    public void SendToCommander(byte[] datagram)
    {
        if (_commander is { } c)
        {
            _command.Send(datagram, datagram.Length, c);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _command.Dispose();
        _state.Dispose();
        await Task.WhenAll(_commandLoop, _stateLoop).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        _stop.Dispose();
    }

    private async Task CommandLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult r;
            try
            {
                r = await _command.ReceiveAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            var text = Encoding.ASCII.GetString(r.Buffer);
            _received.Enqueue(text);
            _commander = r.RemoteEndPoint;
            if (Stopwatch.GetTimestamp() < Interlocked.Read(ref _silentUntilTicks))
            {
                continue; // rebooting: hears nothing
            }

            if (text == "command")
            {
                SdkMode = true;
            }
            else if (!SdkMode)
            {
                continue; // silent before SDK mode, like a real drone
            }

            (string Command, TimeSpan Delay, Task? Hold, string[] Replies)? scripted = null;
            lock (_gate)
            {
                var i = _script.FindIndex(s => s.Command == text);
                if (i >= 0)
                {
                    scripted = _script[i];
                    _script.RemoveAt(i);
                }
            }

            var replies = scripted?.Replies ?? Default(text);
            var delay = scripted?.Delay ?? TimeSpan.Zero;
            var hold = scripted?.Hold;
            var to = r.RemoteEndPoint;
            _ = Task.Run(async () =>
            {
                if (hold is not null)
                {
                    await hold;
                }

                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay);
                }

                foreach (var reply in replies)
                {
                    try
                    {
                        var bytes = Encoding.ASCII.GetBytes(reply);
                        await _command.SendAsync(bytes, bytes.Length, to);
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                }
            });
        }
    }

    private string[] Default(string text) => text switch
    {
        "sn?" => [Serial],
        "battery?" => [Battery],
        "height?" => ["15dm"],
        "tof?" => ["875mm"],
        "time?" => ["11s"],
        "temp?" => ["85~88C"],
        "speed?" => ["100.0"],
        "attitude?" => ["pitch:0;roll:-1;yaw:0;"],
        "acceleration?" => ["agx:-5.00;agy:7.00;agz:-999.00;"],
        "emergency" => [],
        _ when text.StartsWith("rc ", StringComparison.Ordinal) => [],
        _ => ["ok"],
    };

    private async Task StateLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(100, _stop.Token);
                if (SdkMode && StateTarget is { } target)
                {
                    var bytes = Encoding.ASCII.GetBytes(StateText);
                    await _state.SendAsync(bytes, bytes.Length, target);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // keep going; the test decides what matters
            }
        }
    }
}
