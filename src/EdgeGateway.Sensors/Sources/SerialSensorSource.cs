using EdgeGateway.Health;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Serial;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.Sources;

/// <summary>One sensor's link: runs until stopped, survives anything the device does.</summary>
public interface ISensorSource
{
    string Id { get; }

    Task RunAsync(CancellationToken cancellationToken);
}

/// <summary>Shared by the serial and gpsd sources: the reopen loop with backoff, the heartbeat, the health entry.</summary>
internal abstract class ReconnectingSensorSource(string id, SensorEntry entry, SensorRecorder recorder, TimeSpan minDelay,
    TimeSpan maxDelay, TimeProvider time, LoopHeartbeatRegistry? heartbeats, ILogger logger) : ISensorSource
{
    private static readonly TimeSpan BeatEvery = TimeSpan.FromSeconds(1);

    public string Id { get; } = id;

    protected SensorEntry Entry { get; } = entry;

    protected ILogger Logger { get; } = logger;

    protected abstract string Endpoint { get; }

    /// <summary>Opens the device; returns the stream, or null with the user-facing reason.</summary>
    protected abstract Task<(Stream? Stream, string? Failure, string Settings)> OpenAsync(CancellationToken cancellationToken);

    protected abstract ISensorDriver CreateDriver();

    /// <summary>Why the stream ended, once the driver returned.</summary>
    protected abstract string DisconnectReason(Stream stream);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var beat = heartbeats?.Register("sensor/" + Id, TimeSpan.FromSeconds(30));
        var delay = minDelay;
        var everOpened = false;
        string? lastFailure = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                beat?.Beat();
                Stream? stream = null;
                try
                {
                    var (opened, failure, settings) = await OpenAsync(cancellationToken).ConfigureAwait(false);
                    if (opened is null)
                    {
                        Entry.SetLink(everOpened ? SensorLinkState.Disconnected : SensorLinkState.Failed, failure!);
                        if (failure != lastFailure)
                        {
                            SensorsLog.OpenFailed(Logger, Id, failure!, maxDelay.TotalSeconds);
                        }
                        else
                        {
                            SensorsLog.StillFailing(Logger, Id, failure!);
                        }

                        lastFailure = failure;
                        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxDelay.Ticks));
                        continue;
                    }

                    stream = opened;
                    lastFailure = null;
                    delay = minDelay;
                    Entry.SetLink(SensorLinkState.Open, $"open: {Endpoint} at {settings}", reconnected: everOpened);
                    if (everOpened)
                    {
                        SensorsLog.Reopened(Logger, Id, Endpoint, Entry.Snapshot().Reconnects);
                        OnReconnected();
                    }
                    else
                    {
                        SensorsLog.Opened(Logger, Id, Endpoint, settings);
                    }

                    everOpened = true;
                    var run = CreateDriver().RunAsync(stream, recorder, cancellationToken);
                    while (!run.IsCompleted)
                    {
                        beat?.Beat();
                        await Task.WhenAny(run, Task.Delay(BeatEvery, time, cancellationToken)).ConfigureAwait(false);
                    }

                    await run.ConfigureAwait(false);
                    var reason = DisconnectReason(stream);
                    Entry.SetLink(SensorLinkState.Disconnected, $"{Endpoint} disconnected ({reason}); reopening");
                    SensorsLog.Disconnected(Logger, Id, Endpoint, reason);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    var reason = ex.Message;
                    Entry.SetLink(SensorLinkState.Disconnected, $"{Endpoint} disconnected ({reason}); reopening");
                    SensorsLog.Disconnected(Logger, Id, Endpoint, reason);
                }
                catch (Exception ex)
                {
                    // A driver bug must not take the sensor (or the gateway) down: log, back off, start again.
                    Entry.SetLink(SensorLinkState.Failed, $"read loop failed ({ex.GetType().Name}: {ex.Message}); restarting");
                    SensorsLog.LoopFailed(Logger, Id, ex);
                }
                finally
                {
                    if (stream is not null)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
                    }
                }

                try
                {
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (beat is not null)
            {
                heartbeats!.Unregister(beat);
            }
        }
    }

    protected virtual void OnReconnected()
    {
    }
}

/// <summary>
/// A sensor on a serial port: opens the device (by its configured path, so a re-pointed udev symlink
/// is followed), runs the driver, and when the device vanishes (EIO, EOF) or cannot be opened retries
/// with exponential backoff until it is back.
/// </summary>
internal sealed class SerialSensorSource(string id, string device, SerialSettings settings, Func<ISensorDriver> driverFactory,
    SensorEntry entry, SensorRecorder recorder, TimeSpan minDelay, TimeSpan maxDelay, TimeProvider time,
    LoopHeartbeatRegistry? heartbeats, ILogger logger, SensorMetrics metrics)
    : ReconnectingSensorSource(id, entry, recorder, minDelay, maxDelay, time, heartbeats, logger)
{
    protected override string Endpoint => device;

    protected override Task<(Stream? Stream, string? Failure, string Settings)> OpenAsync(CancellationToken cancellationToken)
    {
        var port = SerialPortStream.TryOpen(device, settings, out var failure);
        if (port is null)
        {
            metrics.OpenFailures.Add(1, new KeyValuePair<string, object?>("sensor", Id),
                new KeyValuePair<string, object?>("error", failure!.Error.ToString().ToLowerInvariant()));
        }

        return Task.FromResult<(Stream?, string?, string)>((port, failure?.Message, settings.ToString()));
    }

    protected override ISensorDriver CreateDriver() => driverFactory();

    protected override string DisconnectReason(Stream stream) => (stream as SerialPortStream)?.Disconnect ?? "end of stream";

    protected override void OnReconnected() => metrics.Reconnects.Add(1, new KeyValuePair<string, object?>("sensor", Id));
}
