using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Simulator;

/// <summary>
/// One simulated Tello speaking the text SDK over real UDP sockets: commands and replies on
/// Address:CommandPort, state from Address to the commander's StatePort. Independent of the gateway's code.
/// </summary>
public sealed partial class TelloSimulator : IAsyncDisposable
{
    private const int TakeoffHeightCm = 80;
    private const int HistoryLimit = 100_000; // ReceivedCommands / InjectedFaults keep the newest entries only (rc at 20 Hz runs for days)
    private const double BatteryDrainPerSecond = 100.0 / (12 * 60); // a full pack lasts about 12 minutes of flight
    private static readonly TimeSpan LandDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan WifiRebootDelay = TimeSpan.FromSeconds(3);
    private static readonly byte[] DefaultGarbage =
        [0xCC, 0x58, 0x00, 0x7C, 0x48, 0x35, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
         0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9F, 0x23];

    private readonly TelloSimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private readonly Channel<Work> _work;
    private readonly List<string> _received = [];
    private readonly List<string> _injected = [];
    private readonly Random _commandFaultRandom;
    private readonly Random _stateFaultRandom;
    private readonly Random _noiseRandom;
    private readonly int _seed;

    private Socket? _commandSocket;
    private Socket? _stateSocket;
    private ITimer? _stateTimer;
    private Task? _receiveLoop;
    private Task? _executeLoop;
    private IPEndPoint? _commandEndPoint;
    private int _disposed;

    // Drone state; all guarded by _gate.
    private bool _sdk;
    private bool _flying;
    private bool _motorsOn;
    private bool _rebooting;
    private long _generation;
    private Pose _pose;
    private Motion? _motion;
    private int _pendingMotions;
    private (int Roll, int Pitch, int Throttle, int Yaw) _rc;
    private double _battery;
    private double _motorSeconds;
    private double _templ = 40;
    private double _temph = 43;
    private int _speed = 100;
    private bool _padDetection;
    private string? _landingReason;
    private long _lastTick;
    private long _lastActivity;
    private TimeSpan? _lastOwnLandingIdle;
    private readonly Random _rebootFaultRandom;
    // Injected state pause (fault): no state until this timestamp. Separate from the manual PauseState().
    private long _faultPauseUntil = long.MinValue;
    private IPEndPoint? _lastCommander;
    private IPAddress? _stateTarget;
    private int _statePort;
    private bool _statePaused;
    private int _commandsReceived;
    private int _stateSent;
    private long _commandSequence;
    private long _replySequence;

    // One-shot faults for tests; guarded by _gate.
    private int _dropCommands;
    private int _dropReplies;
    private readonly Queue<TimeSpan> _replyDelays = new();
    private int _duplicateReplies;
    private readonly Queue<string> _replyOverrides = new();

    public TelloSimulator(TelloSimulatorOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid simulator options: " + string.Join("; ", errors), nameof(options));
        }

        _options = options.Clone();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _seed = _options.Faults.Seed ?? Random.Shared.Next();
        _commandFaultRandom = new Random(_seed);
        _stateFaultRandom = new Random(unchecked(_seed * 31 + 1));
        _noiseRandom = new Random(unchecked(_seed * 31 + 2));
        _rebootFaultRandom = new Random(unchecked(_seed * 31 + 3));
        _battery = _options.InitialBattery;
        _statePort = _options.StatePort;
        // Bounded: a drone does not buffer without limit; a flood beyond this is dropped and logged.
        _work = Channel.CreateBounded<Work>(new BoundedChannelOptions(32)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public TelloSimulatorOptions Options => _options;

    /// <summary>The seed of the fault generator (the configured one, or the random one picked).</summary>
    public int Seed => _seed;

    /// <summary>The bound command endpoint (valid after <see cref="StartAsync"/>).</summary>
    public IPEndPoint CommandEndPoint => _commandEndPoint ?? throw new InvalidOperationException("The simulator is not started.");

    public TelloSimulatorSnapshot Snapshot
    {
        get
        {
            lock (_gate)
            {
                var pose = CurrentPoseLocked();
                return new TelloSimulatorSnapshot(_sdk, _flying, _motion is not null, (int)Math.Round(pose.H),
                    BatteryPercentLocked(), NormalizeYaw(pose.Yaw), pose.X, pose.Y, (int)_motorSeconds, _landingReason,
                    _commandsReceived, _stateSent, _statePaused || FaultPausedLocked(_time.GetTimestamp()), _rebooting);
            }
        }
    }

    /// <summary>
    /// Real time (on the simulator's clock) from the last activity (a command heard, or the end of the last move) to the
    /// start of the last landing the drone began by itself (auto-land, battery); null before one. Lets tests check the
    /// scaled 15-s auto-land from the simulator's own stamps instead of timing it from outside.
    /// </summary>
    public TimeSpan? LastOwnLandingIdle
    {
        get
        {
            lock (_gate)
            {
                return _lastOwnLandingIdle;
            }
        }
    }

    /// <summary>Every command text received, in order (including rc, and commands lost to faults or reboots); the newest 100 000.</summary>
    public IReadOnlyList<string> ReceivedCommands
    {
        get
        {
            lock (_gate)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Every fault injected so far, e.g. <c>#3 drop-command battery?</c> (state faults as <c>state corrupt-state</c>).</summary>
    public IReadOnlyList<string> InjectedFaults
    {
        get
        {
            lock (_gate)
            {
                return [.. _injected];
            }
        }
    }

    /// <summary>Raised on the receive loop for every command text received (keep handlers short).</summary>
    public event Action<string>? CommandReceived;

    /// <summary>Binds Address:CommandPort and starts the loops. Throws SocketException (AddressAlreadyInUse) when taken.</summary>
    public Task StartAsync(CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_commandSocket is not null)
        {
            throw new InvalidOperationException("The simulator is already started.");
        }

        var command = new Socket(_options.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        var state = new Socket(_options.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            command.Bind(new IPEndPoint(_options.Address, _options.CommandPort));
            // State must come from the drone's IP; any source port will do.
            state.Bind(new IPEndPoint(_options.Address, 0));
        }
        catch
        {
            command.Dispose();
            state.Dispose();
            throw;
        }

        _commandSocket = command;
        _stateSocket = state;
        _commandEndPoint = (IPEndPoint)command.LocalEndPoint!;
        lock (_gate)
        {
            _lastTick = _time.GetTimestamp();
            _lastActivity = _lastTick;
        }

        _receiveLoop = Task.Run(() => ReceiveLoopAsync(_lifetime.Token), CancellationToken.None);
        _executeLoop = Task.Run(() => ExecuteLoopAsync(_lifetime.Token), CancellationToken.None);
        _stateTimer = _time.CreateTimer(static s => ((TelloSimulator)s!).OnStateTick(), this, _options.StateInterval, _options.StateInterval);
        Log.Started(_logger, _options.SerialNumber, _commandEndPoint, _options.Format, _options.TimeScale, _seed);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (_stateTimer is not null)
        {
            await _stateTimer.DisposeAsync().ConfigureAwait(false);
        }

        Motion? motion;
        lock (_gate)
        {
            motion = _motion;
        }

        motion?.Cts.Cancel();
        _commandSocket?.Dispose();
        _stateSocket?.Dispose();
        _work.Writer.TryComplete();
        var loops = new[] { _receiveLoop, _executeLoop }.Where(t => t is not null).Cast<Task>().Concat(_background.Keys).ToArray();
        try
        {
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or ObjectDisposedException or SocketException)
        {
            // Shutting down: the loops end on cancellation or on the closed socket.
        }

        _lifetime.Dispose();
        if (_commandEndPoint is not null)
        {
            Log.Stopped(_logger, _options.SerialNumber, _commandEndPoint);
        }
    }

    // ---- one-shot faults ----

    public void DropNextCommands(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            _dropCommands += count;
        }
    }

    public void DropNextReplies(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            _dropReplies += count;
        }
    }

    /// <summary>Holds the next reply back by <paramref name="delay"/> (real time, not scaled).</summary>
    public void DelayNextReply(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        lock (_gate)
        {
            _replyDelays.Enqueue(delay);
        }
    }

    public void DuplicateNextReply()
    {
        lock (_gate)
        {
            _duplicateReplies++;
        }
    }

    /// <summary>The next reply is <paramref name="raw"/> instead of the real one (the command still executes).</summary>
    public void OverrideNextReply(string raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        lock (_gate)
        {
            _replyOverrides.Enqueue(raw);
        }
    }

    /// <summary>A binary datagram to the last commander on the command channel.</summary>
    public void SendGarbage(byte[]? bytes = null)
    {
        var target = LastCommanderOrThrow();
        RecordFault("garbage (manual)");
        SendCommandChannel(bytes ?? DefaultGarbage, target);
    }

    /// <summary>An unsolicited text datagram to the last commander on the command channel.</summary>
    public void SendUnsolicited(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var target = LastCommanderOrThrow();
        RecordFault($"unsolicited {text}");
        SendCommandChannel(Encoding.ASCII.GetBytes(text), target);
    }

    /// <summary>Stops state datagrams (a link loss as the gateway sees it); commands are still answered.</summary>
    public void PauseState()
    {
        lock (_gate)
        {
            _statePaused = true;
        }
    }

    public void ResumeState()
    {
        lock (_gate)
        {
            _statePaused = false;
        }
    }

    /// <summary>Any bytes to the state port of the commander (the one that sent <c>command</c>, else the last one).</summary>
    public void SendRawState(byte[] datagram)
    {
        ArgumentNullException.ThrowIfNull(datagram);
        IPEndPoint target;
        lock (_gate)
        {
            var ip = _stateTarget ?? _lastCommander?.Address
                ?? throw new InvalidOperationException("No commander yet: send a command to the simulator first.");
            target = new IPEndPoint(ip, _statePort);
        }

        SendState(datagram, target);
    }

    /// <summary>Goes silent for <paramref name="silence"/> (real time, not scaled): no replies, no state; lands at once and loses SDK mode.</summary>
    public void Reboot(TimeSpan silence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silence, TimeSpan.Zero);
        Motion? cancelled;
        long generation;
        lock (_gate)
        {
            generation = ++_generation;
            _rebooting = true;
            _sdk = false;
            _stateTarget = null;
            _statePort = _options.StatePort;
            cancelled = CancelMotionLocked(reply: null);
            if (_flying || _motorsOn)
            {
                _landingReason = "reboot";
            }

            _flying = false;
            _motorsOn = false;
            _pose = _pose with { H = 0 };
            _rc = default;
            _padDetection = false;
        }

        cancelled?.Cts.Cancel();
        Log.Rebooting(_logger, _options.SerialNumber, silence);
        var delay = Task.Delay(silence, _time, _lifetime.Token);
        Background(async _ =>
        {
            await delay.ConfigureAwait(false);
            lock (_gate)
            {
                if (_generation != generation)
                {
                    return;
                }

                _rebooting = false;
                _lastActivity = _time.GetTimestamp();
            }

            Log.RebootDone(_logger, _options.SerialNumber);
        });
    }

    /// <summary>Sets the battery level; at or below AutoLandBattery in flight the drone lands on the next state tick.</summary>
    public void SetBattery(int percent)
    {
        lock (_gate)
        {
            _battery = Math.Clamp(percent, 0, 100);
        }
    }

    // ---- receive side ----

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(_options.Address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var result = await _commandSocket!.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
                var text = Encoding.ASCII.GetString(buffer, 0, result.ReceivedBytes).Trim(' ', '\r', '\n', '\t', '\0');
                OnCommand(text, (IPEndPoint)result.RemoteEndPoint);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused)
            {
                // An ICMP port-unreachable from an earlier send; harmless for a datagram socket.
            }
            catch (Exception ex)
            {
                Log.ReceiveFailed(_logger, _options.SerialNumber, ex);
            }
        }
    }

    private void OnCommand(string text, IPEndPoint sender)
    {
        Log.CommandIn(_logger, _options.SerialNumber, text, sender);
        try
        {
            HandleCommand(text, sender);
        }
        finally
        {
            try
            {
                CommandReceived?.Invoke(text);
            }
            catch (Exception ex)
            {
                Log.HandlerFailed(_logger, _options.SerialNumber, ex);
            }
        }
    }

    private void HandleCommand(string text, IPEndPoint sender)
    {
        if (RebootFault(text))
        {
            return;
        }

        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var keyword = parts.Length > 0 ? parts[0] : string.Empty;
        Motion? toCancel = null;
        Work? stopAfter = null;
        string? immediateReply = null;
        Work work;
        lock (_gate)
        {
            // Counted in the same lock as the activity time, so whoever sees the count also sees the activity.
            AddBounded(_received, text);
            _commandsReceived++;
            if (_rebooting)
            {
                return;
            }

            var sequence = ++_commandSequence;
            if (_dropCommands > 0)
            {
                _dropCommands--;
                AddBounded(_injected, $"#{sequence} drop-command {text}");
                return;
            }

            var faults = DrawReplyFaultsLocked(sequence, text, out var dropCommand);
            if (dropCommand)
            {
                return;
            }

            var isMotion = IsMotionKeyword(keyword);
            work = new Work(text, keyword, parts.Length > 1 ? parts[1..] : [], sender, faults, _generation, isMotion);
            _lastCommander = sender;
            if (!_sdk)
            {
                if (keyword == "command" && parts.Length == 1)
                {
                    EnterSdkModeLocked(sender);
                }
                else if (_options.ErrorBeforeSdkMode)
                {
                    work = work with { IsMotion = false, BeforeSdk = true };
                    Enqueue(work);
                    return;
                }
                else
                {
                    return;
                }
            }

            // Any command the drone hears counts as activity for the 15-s auto-land.
            _lastActivity = _time.GetTimestamp();
            switch (keyword)
            {
                case "command":
                    EnterSdkModeLocked(sender);
                    break;
                case "emergency":
                    toCancel = EmergencyLocked();
                    break;
                case "rc":
                    immediateReply = RcLocked(work.Args);
                    break;
                case "stop":
                    _rc = default;
                    toCancel = CancelMotionLocked("forced stop", onlyCommanded: true);
                    stopAfter = toCancel is null ? null : work;
                    break;
            }

            if (keyword is "emergency" or "rc")
            {
                // Out of band: never queued, never answered (except rc out of range).
            }
            else if (stopAfter is not null)
            {
                // Answered after the interrupted move's "forced stop".
            }
            else if (keyword != "stop" && (_pendingMotions > 0 || _motion is not null) && _options.WhileBusy != BusyBehaviour.Queue)
            {
                immediateReply = _options.WhileBusy switch
                {
                    BusyBehaviour.Error => "error",
                    BusyBehaviour.NotJoystick => "error Not joystick",
                    _ => null,
                };
                if (immediateReply is null)
                {
                    AddBounded(_injected, $"#{sequence} busy-drop {text}");
                }
            }
            else
            {
                if (isMotion)
                {
                    _pendingMotions++;
                }

                if (!Enqueue(work) && isMotion)
                {
                    _pendingMotions--;
                }
            }
        }

        toCancel?.Cts.Cancel();
        if (immediateReply is not null)
        {
            SendReply(work, immediateReply);
        }

        if (stopAfter is not null && toCancel is not null)
        {
            Background(async ct =>
            {
                await toCancel.Done.Task.WaitAsync(ct).ConfigureAwait(false);
                await Task.Delay(Scaled(CommandLatency()), _time, ct).ConfigureAwait(false);
                SendReply(stopAfter, "ok");
            });
        }
    }

    /// <summary>The seeded reboot fault: drawn per command heard in SDK mode; the command is lost to the reboot.</summary>
    private bool RebootFault(string text)
    {
        if (_options.Faults.Reboot <= 0)
        {
            return false;
        }

        lock (_gate)
        {
            if (!_sdk || _rebooting || _rebootFaultRandom.NextDouble() >= _options.Faults.Reboot)
            {
                return false;
            }

            AddBounded(_injected, $"#{++_commandSequence} reboot {text}");
        }

        Reboot(Scaled(_options.RebootDuration));
        lock (_gate)
        {
            // Counted after the reboot began, so whoever sees the count also sees the reboot.
            AddBounded(_received, text);
            _commandsReceived++;
        }

        return true;
    }

    private bool FaultPausedLocked(long now) => _faultPauseUntil != long.MinValue && now < _faultPauseUntil;

    /// <summary>The seeded state-pause fault: true while a pause runs (then no state is sent); may start one.</summary>
    private bool StatePauseFaultLocked(long now)
    {
        var f = _options.Faults;
        if (f.StatePause <= 0 || !_sdk || _rebooting)
        {
            return false;
        }

        if (FaultPausedLocked(now))
        {
            return true;
        }

        // A probability per second, turned into one per tick so the rate does not depend on StateInterval.
        var perTick = 1 - Math.Pow(1 - f.StatePause, _options.StateInterval.TotalSeconds);
        if (_stateFaultRandom.NextDouble() >= perTick)
        {
            return false;
        }

        var pause = f.StatePauseMin + (f.StatePauseMax - f.StatePauseMin) * _stateFaultRandom.NextDouble();
        _faultPauseUntil = now + (long)(pause.TotalSeconds * _time.TimestampFrequency);
        AddBounded(_injected, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"state pause {pause.TotalSeconds:0.000}s"));
        Log.StatePauseInjected(_logger, _options.SerialNumber, pause.TotalSeconds);
        return true;
    }

    private bool Enqueue(Work work)
    {
        if (_work.Writer.TryWrite(work))
        {
            return true;
        }

        Log.QueueFull(_logger, _options.SerialNumber, work.Text);
        return false;
    }

    private void EnterSdkModeLocked(IPEndPoint sender)
    {
        if (!_sdk)
        {
            Log.SdkMode(_logger, _options.SerialNumber, sender);
        }

        _sdk = true;
        _stateTarget = sender.Address;
    }

    private ReplyFaults DrawReplyFaultsLocked(long sequence, string text, out bool dropCommand)
    {
        var f = _options.Faults;
        // Always draw in the same order, so one seed gives one fault sequence for one command sequence.
        dropCommand = Draw(f.DropCommand);
        var faults = new ReplyFaults(Draw(f.DropReply), Draw(f.LateReply), Draw(f.DuplicateReply), Draw(f.GarbageDatagram),
            Draw(f.NotJoystick), Draw(f.NoValidImu), Draw(f.TakeoffErrorButFlies));
        if (dropCommand)
        {
            AddBounded(_injected, $"#{sequence} drop-command {text}");
        }

        return faults;

        bool Draw(double p) => p > 0 && _commandFaultRandom.NextDouble() < p;
    }

    // ---- execution ----

    private async Task ExecuteLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var work in _work.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                var counted = new StrongBox<bool>(work.IsMotion);
                try
                {
                    await ExecuteAsync(work, counted, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Log.ExecuteFailed(_logger, _options.SerialNumber, work.Text, ex);
                }
                finally
                {
                    if (counted.Value)
                    {
                        lock (_gate)
                        {
                            _pendingMotions--;
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <param name="counted">True while the work still counts in _pendingMotions; cleared in the same lock that starts or refuses the move, so the next command never sees a stale busy.</param>
    private async Task ExecuteAsync(Work work, StrongBox<bool> counted, CancellationToken ct)
    {
        Motion? running;
        lock (_gate)
        {
            running = _motion;
        }

        // A landing the drone started by itself (auto-land, battery) finishes first.
        if (running is not null)
        {
            await running.Done.Task.WaitAsync(ct).ConfigureAwait(false);
        }

        if (!work.IsMotion)
        {
            await Task.Delay(Scaled(CommandLatency()), _time, ct).ConfigureAwait(false);
        }

        string? reply;
        Motion? motion;
        lock (_gate)
        {
            if (counted.Value)
            {
                counted.Value = false;
                _pendingMotions--;
            }

            if (work.Generation != _generation)
            {
                return; // heard before a reboot
            }

            if (work.BeforeSdk)
            {
                (reply, motion) = ("error", null);
            }
            else if (work.IsMotion && work.Keyword != "land" && (work.Faults.NoValidImu || (work.Faults.NotJoystick && work.Keyword != "takeoff")))
            {
                reply = work.Faults.NoValidImu ? "error No valid imu" : "error Not joystick";
                motion = null;
                AddBounded(_injected, $"refused {work.Text} -> {reply}");
            }
            else
            {
                (reply, motion) = InterpretLocked(work);
            }
        }

        if (motion is not null)
        {
            Log.MotionStarted(_logger, _options.SerialNumber, work.Text, motion.RealDuration);
            StartMotionTimer(motion);
            await motion.Done.Task.WaitAsync(ct).ConfigureAwait(false);
            return;
        }

        if (reply is not null)
        {
            SendReply(work, reply);
        }
    }

    private void StartMotionTimer(Motion motion)
    {
        // The timer is created here, synchronously, so a virtual clock advanced right after sees it.
        var delay = Task.Delay(motion.RealDuration, _time, motion.Cts.Token);
        Background(async _ =>
        {
            try
            {
                await delay.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped, emergency, reboot or shutdown: CompleteMotion sorts out which.
            }

            CompleteMotion(motion);
        });
    }

    private void CompleteMotion(Motion motion)
    {
        string? reply;
        lock (_gate)
        {
            if (motion.Completed)
            {
                return;
            }

            motion.Completed = true;
            if (!motion.Cancelled && !_lifetime.IsCancellationRequested)
            {
                _pose = motion.To;
                if (motion.LandingReason is not null)
                {
                    _flying = false;
                    _motorsOn = false;
                    _rc = default;
                    _landingReason = motion.LandingReason;
                    _pose = _pose with { H = 0 };
                }

                reply = motion.SuccessReply;
            }
            else
            {
                reply = motion.CancelReply;
            }

            if (ReferenceEquals(_motion, motion))
            {
                _motion = null;
            }

            // SDK 3.0: the 15 s count from the end of the current command.
            _lastActivity = _time.GetTimestamp();
        }

        if (reply is not null && motion.Work is not null && !_lifetime.IsCancellationRequested)
        {
            SendReply(motion.Work, reply);
        }

        motion.Done.TrySetResult();
    }

    /// <summary>Cancels the running move: freezes the pose where it is now. Call Cts.Cancel() after leaving the lock.</summary>
    private Motion? CancelMotionLocked(string? reply, bool onlyCommanded = false)
    {
        var motion = _motion;
        if (motion is null || (onlyCommanded && motion.Work is null))
        {
            return null;
        }

        _pose = PoseAtLocked(motion);
        motion.Cancelled = true;
        motion.CancelReply = reply;
        _motion = null;
        return motion;
    }

    private Motion? EmergencyLocked()
    {
        var cancelled = CancelMotionLocked(reply: null);
        if (_flying || _motorsOn)
        {
            _landingReason = "emergency";
        }

        _flying = false;
        _motorsOn = false;
        _rc = default;
        _pose = _pose with { H = 0 };
        Log.Emergency(_logger, _options.SerialNumber);
        return cancelled;
    }

    /// <summary>Starts a move the drone makes by itself (no reply): auto-land or battery landing.</summary>
    private Motion StartOwnLandingLocked(string reason)
    {
        var origin = CurrentPoseLocked();
        _lastOwnLandingIdle = _time.GetElapsedTime(_lastActivity);
        var motion = new Motion(null, origin, origin with { H = 0 }, _time.GetTimestamp(), Scaled(LandDuration), _lifetime.Token)
        {
            LandingReason = reason,
        };
        _motion = motion;
        _rc = default;
        return motion;
    }

    // ---- state ----

    private void OnStateTick()
    {
        try
        {
            byte[]? datagram = null;
            IPEndPoint? target = null;
            Motion? cancelled = null;
            Motion? landing = null;
            lock (_gate)
            {
                if (_lifetime.IsCancellationRequested)
                {
                    return;
                }

                var now = _time.GetTimestamp();
                var dt = _time.GetElapsedTime(_lastTick, now).TotalSeconds * _options.TimeScale;
                _lastTick = now;
                AdvancePhysicsLocked(dt);

                if (_flying && _battery <= _options.AutoLandBattery && _motion?.LandingReason != "battery")
                {
                    cancelled = CancelMotionLocked("error Auto land");
                    landing = StartOwnLandingLocked("battery");
                    Log.BatteryLanding(_logger, _options.SerialNumber, BatteryPercentLocked());
                }
                else if (_flying && _motion is null && _pendingMotions == 0 && _work.Reader.Count == 0
                         && _options.AutoLandTimeout != Timeout.InfiniteTimeSpan
                         && _time.GetElapsedTime(_lastActivity, now) * _options.TimeScale >= _options.AutoLandTimeout)
                {
                    landing = StartOwnLandingLocked("auto-land");
                    Log.AutoLand(_logger, _options.SerialNumber);
                }

                var faultPaused = StatePauseFaultLocked(now);
                if (_sdk && !_rebooting && !_statePaused && !faultPaused && _stateTarget is not null)
                {
                    var text = TelloStateFormatter.Format(_options.Format, BuildStateLocked());
                    if (_options.Faults.CorruptState > 0 && _stateFaultRandom.NextDouble() < _options.Faults.CorruptState)
                    {
                        text = TelloStateFormatter.Corrupt(text, _stateFaultRandom);
                        AddBounded(_injected, "state corrupt-state");
                    }

                    datagram = Encoding.ASCII.GetBytes(text);
                    target = new IPEndPoint(_stateTarget, _statePort);
                    _stateSent++;
                }
            }

            cancelled?.Cts.Cancel();
            if (landing is not null)
            {
                StartMotionTimer(landing);
            }

            if (datagram is not null)
            {
                SendState(datagram, target!);
            }
        }
        catch (Exception ex)
        {
            Log.StateTickFailed(_logger, _options.SerialNumber, ex);
        }
    }

    private void AdvancePhysicsLocked(double dt)
    {
        if (dt <= 0)
        {
            return;
        }

        if (_motorsOn)
        {
            _motorSeconds += dt;
            _templ = Math.Min(85, _templ + dt / 20);
            _temph = Math.Min(88, _temph + dt / 20);
        }

        if (_flying)
        {
            _battery = Math.Max(0, _battery - BatteryDrainPerSecond * dt);
        }

        if (_flying && _motion is null && _rc != default)
        {
            // rc sticks: 100 is taken as 100 cm/s (and 100 deg/s of yaw).
            var yaw = _pose.Yaw * Math.PI / 180;
            var forward = _rc.Pitch * dt;
            var right = _rc.Roll * dt;
            _pose = new Pose(
                _pose.X + forward * Math.Cos(yaw) - right * Math.Sin(yaw),
                _pose.Y + forward * Math.Sin(yaw) + right * Math.Cos(yaw),
                Math.Clamp(_pose.H + _rc.Throttle * dt, 10, 3000),
                _pose.Yaw + _rc.Yaw * dt);
        }
    }

    private TelloStateValues BuildStateLocked()
    {
        var pose = CurrentPoseLocked();
        var (vx, vy, vz) = VelocityLocked();
        var onGround = pose.H < 1;
        var noise = () => _noiseRandom.Next(-3, 4);
        return new TelloStateValues(
            Pitch: 0,
            Roll: onGround ? 0 : _noiseRandom.Next(-1, 2),
            Yaw: NormalizeYaw(pose.Yaw),
            Vgx: (int)Math.Round(vx / 10),
            Vgy: (int)Math.Round(vy / 10),
            Vgz: (int)Math.Round(vz / 10),
            Templ: (int)_templ,
            Temph: (int)_temph,
            Tof: (int)Math.Round(pose.H) + 10,
            H: (int)Math.Round(pose.H),
            Bat: BatteryPercentLocked(),
            Baro: 18.92 + pose.H / 100 + _noiseRandom.Next(-5, 6) / 100.0,
            Time: (int)_motorSeconds,
            Agx: -12 + noise(),
            Agy: 16 + noise(),
            Agz: -993 + noise(),
            PadDetection: _padDetection);
    }

    /// <summary>Velocity in cm/s in the world frame (x north, y east, z up), for the vg* fields.</summary>
    private (double X, double Y, double Z) VelocityLocked()
    {
        if (_motion is { } m && m.RealDuration > TimeSpan.Zero)
        {
            var seconds = m.RealDuration.TotalSeconds * _options.TimeScale;
            return ((m.To.X - m.From.X) / seconds, (m.To.Y - m.From.Y) / seconds, (m.To.H - m.From.H) / seconds);
        }

        if (_flying && _rc != default)
        {
            var yaw = _pose.Yaw * Math.PI / 180;
            return (_rc.Pitch * Math.Cos(yaw) - _rc.Roll * Math.Sin(yaw), _rc.Pitch * Math.Sin(yaw) + _rc.Roll * Math.Cos(yaw), _rc.Throttle);
        }

        return (0, 0, 0);
    }

    // ---- sending ----

    private void SendReply(Work work, string text)
    {
        TimeSpan delay = TimeSpan.Zero;
        var duplicate = false;
        var padNul = false;
        long sequence;
        lock (_gate)
        {
            if (_rebooting || work.Generation != _generation)
            {
                return;
            }

            sequence = ++_replySequence;
            if (_replyOverrides.TryDequeue(out var raw))
            {
                AddBounded(_injected, $"reply #{sequence} override \"{text}\" -> \"{raw}\"");
                text = raw;
            }

            if (_dropReplies > 0 || work.Faults.DropReply)
            {
                if (_dropReplies > 0)
                {
                    _dropReplies--;
                }

                AddBounded(_injected, $"reply #{sequence} drop-reply {work.Text} -> {text}");
                Log.ReplyDropped(_logger, _options.SerialNumber, work.Text, text);
                return;
            }

            if (_replyDelays.TryDequeue(out var oneShot))
            {
                delay = oneShot;
            }
            else if (work.Faults.Late)
            {
                delay = _options.Faults.LateReplyDelay;
            }

            if (delay > TimeSpan.Zero)
            {
                AddBounded(_injected, $"reply #{sequence} late-reply {work.Text} -> {text} by {delay.TotalMilliseconds:0} ms");
            }

            if (_duplicateReplies > 0 || work.Faults.Duplicate)
            {
                if (_duplicateReplies > 0)
                {
                    _duplicateReplies--;
                }

                duplicate = true;
                AddBounded(_injected, $"reply #{sequence} duplicate-reply {work.Text} -> {text}");
            }

            if (work.Faults.Garbage)
            {
                AddBounded(_injected, $"reply #{sequence} garbage {work.Text}");
            }

            padNul = sequence % 2 == 0;
        }

        if (_options.Faults.UppercaseOk && text == "ok")
        {
            text = "OK";
        }

        if (_options.Faults.PadReplies)
        {
            text += padNul ? "\r\n\0" : "\r\n";
        }

        var bytes = Encoding.ASCII.GetBytes(text);
        if (delay > TimeSpan.Zero)
        {
            var wait = Task.Delay(delay, _time, _lifetime.Token);
            Background(async _ =>
            {
                await wait.ConfigureAwait(false);
                SendLate(work, bytes, duplicate);
            });
            return;
        }

        SendNow(work, bytes, duplicate);
    }

    private void SendLate(Work work, byte[] bytes, bool duplicate)
    {
        lock (_gate)
        {
            if (_rebooting || work.Generation != _generation)
            {
                return;
            }
        }

        SendNow(work, bytes, duplicate);
    }

    private void SendNow(Work work, byte[] bytes, bool duplicate)
    {
        Log.ReplyOut(_logger, _options.SerialNumber, work.Text, Encoding.ASCII.GetString(bytes).TrimEnd('\r', '\n', '\0'), work.Sender);
        SendCommandChannel(bytes, work.Sender);
        if (duplicate)
        {
            SendCommandChannel(bytes, work.Sender);
        }

        if (work.Faults.Garbage)
        {
            SendCommandChannel(DefaultGarbage, work.Sender);
        }
    }

    private void SendCommandChannel(byte[] bytes, IPEndPoint target) => SendTo(_commandSocket, bytes, target);

    private void SendState(byte[] bytes, IPEndPoint target) => SendTo(_stateSocket, bytes, target);

    private void SendTo(Socket? socket, byte[] bytes, IPEndPoint target)
    {
        if (socket is null)
        {
            throw new InvalidOperationException("The simulator is not started.");
        }

        try
        {
            socket.SendTo(bytes, SocketFlags.None, target);
        }
        catch (ObjectDisposedException)
        {
            // Shutting down.
        }
        catch (SocketException ex)
        {
            Log.SendFailed(_logger, _options.SerialNumber, target, ex.SocketErrorCode);
        }
    }

    private IPEndPoint LastCommanderOrThrow()
    {
        lock (_gate)
        {
            return _lastCommander ?? throw new InvalidOperationException("No commander yet: send a command to the simulator first.");
        }
    }

    // ---- helpers ----

    private void Background(Func<CancellationToken, Task> work)
    {
        var token = _lifetime.Token;
        var task = Task.Run(async () =>
        {
            try
            {
                await work(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                Log.BackgroundFailed(_logger, _options.SerialNumber, ex);
            }
        }, CancellationToken.None);
        _background.TryAdd(task, 0);
        _ = task.ContinueWith(t => _background.TryRemove(t, out _), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static void AddBounded(List<string> history, string entry)
    {
        if (history.Count >= HistoryLimit)
        {
            history.RemoveRange(0, HistoryLimit / 10);
        }

        history.Add(entry);
    }

    private void RecordFault(string what)
    {
        lock (_gate)
        {
            AddBounded(_injected, what);
        }
    }

    private TimeSpan Scaled(TimeSpan droneTime) => droneTime / _options.TimeScale;

    private TimeSpan CommandLatency()
    {
        lock (_gate)
        {
            return TimeSpan.FromMilliseconds(_noiseRandom.Next(20, 51));
        }
    }

    private int BatteryPercentLocked() => (int)Math.Ceiling(_battery - 1e-9);

    private Pose CurrentPoseLocked() => _motion is null ? _pose : PoseAtLocked(_motion);

    private Pose PoseAtLocked(Motion motion)
    {
        var total = motion.RealDuration.Ticks;
        var fraction = total <= 0 ? 1 : Math.Clamp(_time.GetElapsedTime(motion.StartTimestamp).Ticks / (double)total, 0, 1);
        return motion.From.Lerp(motion.To, fraction);
    }

    private static int NormalizeYaw(double yaw)
    {
        var y = Math.Round(yaw) % 360;
        if (y > 180)
        {
            y -= 360;
        }
        else if (y <= -180)
        {
            y += 360;
        }

        return (int)y;
    }

    private sealed record Work(string Text, string Keyword, string[] Args, IPEndPoint Sender, ReplyFaults Faults, long Generation, bool IsMotion)
    {
        public bool BeforeSdk { get; init; }
    }

    private readonly record struct ReplyFaults(bool DropReply, bool Late, bool Duplicate, bool Garbage,
        bool NotJoystick = false, bool NoValidImu = false, bool TakeoffError = false);

    private readonly record struct Pose(double X, double Y, double H, double Yaw)
    {
        public Pose Lerp(Pose to, double f) => new(X + (to.X - X) * f, Y + (to.Y - Y) * f, H + (to.H - H) * f, Yaw + (to.Yaw - Yaw) * f);
    }

    private sealed class Motion(Work? work, Pose origin, Pose to, long startTimestamp, TimeSpan realDuration, CancellationToken lifetime)
    {
        /// <summary>The command that started it; null for a move the drone makes by itself (no reply).</summary>
        public Work? Work { get; } = work;

        public Pose From { get; } = origin;

        public Pose To { get; } = to;

        public long StartTimestamp { get; } = startTimestamp;

        public TimeSpan RealDuration { get; } = realDuration;

        public CancellationTokenSource Cts { get; } = CancellationTokenSource.CreateLinkedTokenSource(lifetime);

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string SuccessReply { get; init; } = "ok";

        public string? LandingReason { get; init; }

        public bool Cancelled { get; set; }

        public string? CancelReply { get; set; }

        public bool Completed { get; set; }
    }
}
