using System.Device.I2c;
using EdgeGateway.Health;
using EdgeGateway.Sensors.Sources;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.I2c;

/// <summary>
/// One I2C chip on its own read loop: open (check the chip id, configure through the binding), then read at the
/// configured rate. A failed read (NACK, bus error) marks the sensor degraded with the reason, closes the chip and
/// opens it again after a back-off that doubles up to the maximum, since a chip that browned out has lost its
/// configuration. When the bus device itself has gone (a USB adapter pulled out) opening fails and the sensor is
/// disconnected until it is back. A wrong chip id is a failure with a message that says what was found.
/// </summary>
internal sealed class I2cSensorSource(string id, I2cSensorModel model, I2cConnectionSettings settings, I2cChipOptions chipOptions,
    TimeSpan period, I2cDeviceOpener opener, SensorEntry entry, SensorRecorder recorder, TimeSpan minDelay, TimeSpan maxDelay,
    TimeProvider time, LoopHeartbeatRegistry? heartbeats, ILogger logger, SensorMetrics metrics) : ISensorSource
{
    public string Id { get; } = id;

    private string Endpoint => $"{model.ToString().ToLowerInvariant()} at 0x{settings.DeviceAddress:x2} on {LinuxI2cBus.DevicePath(settings.BusId)}";

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
                var (chip, failure) = TryOpen();
                if (chip is null)
                {
                    entry.SetLink(everOpened ? SensorLinkState.Disconnected : SensorLinkState.Failed, failure!);
                    if (failure != lastFailure)
                    {
                        SensorsLog.OpenFailed(logger, Id, failure!, maxDelay.TotalSeconds);
                    }
                    else
                    {
                        SensorsLog.StillFailing(logger, Id, failure!);
                    }

                    lastFailure = failure;
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                    delay = Next(delay);
                    continue;
                }

                lastFailure = null;
                entry.SetLink(SensorLinkState.Open, $"open: {Endpoint} ({chip.Settings})", reconnected: everOpened);
                if (everOpened)
                {
                    SensorsLog.Reopened(logger, Id, Endpoint, entry.Snapshot().Reconnects);
                    metrics.Reconnects.Add(1, new KeyValuePair<string, object?>("sensor", Id));
                }
                else
                {
                    SensorsLog.Opened(logger, Id, Endpoint, chip.Settings);
                }

                everOpened = true;
                string reason;
                long good;
                using (chip)
                {
                    (reason, good) = await ReadUntilFailureAsync(chip, beat, cancellationToken).ConfigureAwait(false);
                }

                if (good > 0)
                {
                    // It worked after the last reopen: a new failure starts the back-off from the minimum again.
                    delay = minDelay;
                }

                // Degraded, not disconnected: the bus and the chip were there a moment ago. Reopening decides which.
                entry.ReadFailed($"read failed ({reason}); reopening in {delay.TotalSeconds:0.###} s");
                SensorsLog.I2cReadFailed(logger, Id, Endpoint, reason, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                delay = Next(delay);
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

    /// <summary>Reads at the configured rate until a read fails; returns why and how many reads succeeded.</summary>
    private async Task<(string Reason, long Good)> ReadUntilFailureAsync(I2cChip chip, LoopHeartbeat? beat, CancellationToken cancellationToken)
    {
        var next = time.GetTimestamp();
        long good = 0;
        while (true)
        {
            beat?.Beat();
            try
            {
                recorder.OnReading(chip.Read());
                good++;
            }
            catch (IOException ex)
            {
                return (ex.Message, good);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A binding bug must not end the loop (or the gateway): reported like a bus error, then reopened.
                SensorsLog.LoopFailed(logger, Id, ex);
                return ($"{ex.GetType().Name}: {ex.Message}", good);
            }

            // Fixed rate, not fixed delay: a slow read does not stretch the period; a long stall does not cause a burst.
            next += (long)(period.TotalSeconds * time.TimestampFrequency);
            var wait = time.GetElapsedTime(time.GetTimestamp(), next);
            if (wait <= TimeSpan.Zero)
            {
                next = time.GetTimestamp();
                continue;
            }

            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private (I2cChip? Chip, string? Failure) TryOpen()
    {
        I2cDevice device;
        var bus = LinuxI2cBus.DevicePath(settings.BusId);
        try
        {
            device = opener(settings);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Fail("no_bus", $"{bus} does not exist: enable I2C (dtparam=i2c_arm=on in /boot/firmware/config.txt, then reboot) or plug the adapter in");
        }
        catch (UnauthorizedAccessException)
        {
            return Fail("permission", $"no permission to open {bus}: the service user needs the i2c group, and the unit DeviceAllow=char-i2c rw");
        }
        catch (IOException ex)
        {
            return Fail("io", $"cannot open {bus}: {ex.Message}");
        }

        try
        {
            return (I2cChip.Open(model, device, chipOptions), null);
        }
        catch (I2cChipMismatchException ex)
        {
            return Fail("wrong_chip", $"wrong chip on {bus}: {ex.Message}");
        }
        catch (IOException ex)
        {
            return Fail("no_answer", $"nothing answers at 0x{settings.DeviceAddress:x2} on {bus} ({ex.Message}): check the wiring (SDA, SCL, 3.3 V, GND) and the address (i2cdetect -y {settings.BusId})");
        }
        catch (UnauthorizedAccessException)
        {
            return Fail("permission", $"no permission to use {bus}: the service user needs the i2c group, and the unit DeviceAllow=char-i2c rw");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            SensorsLog.LoopFailed(logger, Id, ex);
            return Fail("error", $"{Endpoint} could not be set up ({ex.GetType().Name}: {ex.Message})");
        }

        (I2cChip?, string?) Fail(string error, string message)
        {
            metrics.OpenFailures.Add(1, new KeyValuePair<string, object?>("sensor", Id), new KeyValuePair<string, object?>("error", error));
            return (null, message);
        }
    }

    private TimeSpan Next(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxDelay.Ticks));
}
