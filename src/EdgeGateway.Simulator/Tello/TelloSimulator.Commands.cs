using System.Globalization;

namespace EdgeGateway.Simulator;

// How the simulated drone interprets one command: validation, replies and the moves it starts.
public sealed partial class TelloSimulator
{
    private static readonly HashSet<string> MotionKeywords =
        ["takeoff", "land", "up", "down", "left", "right", "forward", "back", "cw", "ccw", "flip", "go", "curve", "jump"];

    private static bool IsMotionKeyword(string keyword) => MotionKeywords.Contains(keyword);

    /// <summary>Returns the reply (null = none) or a started move (which replies when it ends), and work to do after leaving the lock.</summary>
    private (string? Reply, Motion? Motion) InterpretLocked(Work w)
    {
        var a = w.Args;
        switch (w.Keyword)
        {
            case "command" or "keepalive" or "streamon" or "streamoff" or "stop" when a.Length == 0:
                return ("ok", null);
            case "mon" when a.Length == 0:
                _padDetection = true;
                return ("ok", null);
            case "moff" when a.Length == 0:
                _padDetection = false;
                return ("ok", null);
            case "mdirection":
                return (Ranged(a, 0, 2) ?? "ok", null);
            case "downvision":
                return (Ranged(a, 0, 1) ?? "ok", null);
            case "setbitrate":
                return (Ranged(a, 0, 5) ?? "ok", null);
            case "setfps":
                return (a is ["low" or "middle" or "high"] ? "ok" : a.Length == 1 ? "out of range" : "error", null);
            case "setresolution":
                return (a is ["low" or "high"] ? "ok" : a.Length == 1 ? "out of range" : "error", null);
            case "speed":
                {
                    var bad = Ranged(a, 10, 100);
                    if (bad is null)
                    {
                        _speed = int.Parse(a[0], CultureInfo.InvariantCulture);
                    }

                    return (bad ?? "ok", null);
                }

            case "port":
                {
                    if (a.Length != 2 || !TryInts(a, out var ports))
                    {
                        return ("error", null);
                    }

                    if (ports.Any(p => p is < 1025 or > 65535))
                    {
                        return ("out of range", null);
                    }

                    _statePort = ports[0];
                    return ("ok", null);
                }

            case "motoron" when a.Length == 0:
                if (_flying)
                {
                    return ("error", null);
                }

                _motorsOn = true;
                return ("ok", null);
            case "motoroff" when a.Length == 0:
                if (_flying)
                {
                    return ("error", null);
                }

                _motorsOn = false;
                return ("ok", null);
            case "wifi" or "ap":
                if (a.Length != 2)
                {
                    return ("error", null);
                }

                ScheduleNetworkReboot();
                return ("OK,drone will reboot in 3s", null);
            case "reboot" when a.Length == 0:
                ScheduleReboot(TimeSpan.Zero);
                return (null, null);
            case "takeoff" when a.Length == 0:
                return Takeoff(w);
            case "land" when a.Length == 0:
                if (!_flying)
                {
                    return ("error", null);
                }

                return (null, StartMotionLocked(w, CurrentPoseLocked() with { H = 0 }, LandDuration, landingReason: "land"));
            case "up" or "down" or "left" or "right" or "forward" or "back":
                return Move(w);
            case "cw" or "ccw":
                return Rotate(w);
            case "flip":
                return Flip(w);
            case "go":
                return Go(w);
            case "curve":
                return Curve(w);
            case "jump":
                return Jump(w);
        }

        return (ReadLocked(w.Keyword) ?? (_options.Faults.OldFirmwareUnknownCommand ? "Unkown Command!" : $"unknown command: {w.Keyword}"), null);
    }

    private string? ReadLocked(string keyword)
    {
        var pose = CurrentPoseLocked();
        var inv = CultureInfo.InvariantCulture;
        return keyword switch
        {
            "speed?" => string.Create(inv, $"{_speed:0.0}"),
            "battery?" => BatteryPercentLocked().ToString(inv),
            "time?" => string.Create(inv, $"{(int)_motorSeconds}s"),
            "wifi?" => "90",
            "sdk?" => _options.Format switch
            {
                TelloSdkFormat.Sdk20 => "20",
                TelloSdkFormat.Sdk30 => "30",
                _ => null,
            },
            "sn?" => _options.SerialNumber,
            "height?" => string.Create(inv, $"{(int)Math.Round(pose.H / 10)}dm"),
            "temp?" => string.Create(inv, $"{(int)_templ}~{(int)_temph}C"),
            "attitude?" => string.Create(inv, $"pitch:0;roll:0;yaw:{NormalizeYaw(pose.Yaw)};"),
            "baro?" => (18.92 + pose.H / 100).ToString("0.000000", inv),
            "acceleration?" => "agx:-12.00;agy:16.00;agz:-993.00;",
            "tof?" => string.Create(inv, $"{((int)Math.Round(pose.H) + 10) * 10}mm"),
            "hardware?" => _options.Format == TelloSdkFormat.Sdk30 ? "RMTT" : "TELLO",
            _ => null,
        };
    }

    private (string?, Motion?) Takeoff(Work w)
    {
        if (_flying)
        {
            return ("error", null);
        }

        if (_battery < _options.MinTakeoffBattery || _battery <= _options.AutoLandBattery)
        {
            return ("error", null);
        }

        _flying = true;
        _motorsOn = true;
        _rc = default;
        _pose = _pose with { H = 0 };
        double seconds;
        lock (_gate)
        {
            seconds = 3 + _noiseRandom.NextDouble() * 5; // 3-8 s: measured 3.9 s, slower in poor light
        }

        var reply = w.Faults.TakeoffError ? "error" : "ok";
        if (w.Faults.TakeoffError)
        {
            AddBounded(_injected, $"takeoff-error-but-flies {w.Text}");
        }

        return (null, StartMotionLocked(w, _pose with { H = TakeoffHeightCm }, TimeSpan.FromSeconds(seconds), successReply: reply));
    }

    private (string?, Motion?) Move(Work w)
    {
        var bad = Ranged(w.Args, 20, 500);
        if (bad is not null)
        {
            return (bad, null);
        }

        if (MotionRefusal() is { } refusal)
        {
            return (refusal, null);
        }

        var d = double.Parse(w.Args[0], CultureInfo.InvariantCulture);
        var (forward, left, up) = w.Keyword switch
        {
            "forward" => (d, 0.0, 0.0),
            "back" => (-d, 0.0, 0.0),
            "left" => (0.0, d, 0.0),
            "right" => (0.0, -d, 0.0),
            "up" => (0.0, 0.0, d),
            _ => (0.0, 0.0, -d),
        };
        return (null, StartMotionLocked(w, Displaced(forward, left, up), TimeSpan.FromSeconds(d / _speed + 1)));
    }

    private (string?, Motion?) Rotate(Work w)
    {
        var bad = Ranged(w.Args, 1, _options.Format == TelloSdkFormat.Sdk13 ? 3600 : 360);
        if (bad is not null)
        {
            return (bad, null);
        }

        if (MotionRefusal() is { } refusal)
        {
            return (refusal, null);
        }

        var degrees = double.Parse(w.Args[0], CultureInfo.InvariantCulture);
        var origin = CurrentPoseLocked();
        var to = origin with { Yaw = origin.Yaw + (w.Keyword == "cw" ? degrees : -degrees) };
        return (null, StartMotionLocked(w, to, TimeSpan.FromSeconds(degrees / 90 + 1)));
    }

    private (string?, Motion?) Flip(Work w)
    {
        if (w.Args.Length != 1)
        {
            return ("error", null);
        }

        if (w.Args[0] is not ("l" or "r" or "f" or "b"))
        {
            return ("out of range", null);
        }

        if (MotionRefusal() is { } refusal)
        {
            return (refusal, null);
        }

        if (_battery < _options.MinFlipBattery)
        {
            return ("error", null);
        }

        return (null, StartMotionLocked(w, CurrentPoseLocked(), TimeSpan.FromSeconds(1.5)));
    }

    private (string?, Motion?) Go(Work w)
    {
        if (w.Args.Length is not (4 or 5) || !TryInts(w.Args[..4], out var v))
        {
            return ("error", null);
        }

        if (v[..3].Any(c => c is < -500 or > 500) || v[3] is < 10 or > 100 || v[..3].All(c => c is >= -20 and <= 20))
        {
            return ("out of range", null);
        }

        if (w.Args.Length == 5)
        {
            return PadCommand(w, w.Args[4]);
        }

        if (MotionRefusal() is { } refusal)
        {
            return (refusal, null);
        }

        var distance = Math.Sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        return (null, StartMotionLocked(w, Displaced(v[0], v[1], v[2]), TimeSpan.FromSeconds(distance / v[3] + 1)));
    }

    private (string?, Motion?) Curve(Work w)
    {
        if (w.Args.Length is not (7 or 8) || !TryInts(w.Args[..7], out var v))
        {
            return ("error", null);
        }

        if (v[..6].Any(c => c is < -500 or > 500) || v[6] is < 10 or > 60
            || v[..3].All(c => c is >= -20 and <= 20) || v[3..6].All(c => c is >= -20 and <= 20))
        {
            return ("out of range", null);
        }

        // The arc through the start, (x1,y1,z1) and (x2,y2,z2) must have a radius of 0.5-10 m.
        var (ax, ay, az) = ((double)v[0], (double)v[1], (double)v[2]);
        var (bx, by, bz) = ((double)v[3], (double)v[4], (double)v[5]);
        var (cx, cy, cz) = (ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx);
        var cross = Math.Sqrt(cx * cx + cy * cy + cz * cz);
        var la = Math.Sqrt(ax * ax + ay * ay + az * az);
        var lb = Math.Sqrt(bx * bx + by * by + bz * bz);
        var lab = Math.Sqrt((ax - bx) * (ax - bx) + (ay - by) * (ay - by) + (az - bz) * (az - bz));
        var radius = cross < 1e-9 ? double.PositiveInfinity : la * lb * lab / (2 * cross);
        if (radius is < 50 or > 1000)
        {
            return ("error", null);
        }

        if (w.Args.Length == 8)
        {
            return PadCommand(w, w.Args[7]);
        }

        if (MotionRefusal() is { } refusal)
        {
            return (refusal, null);
        }

        return (null, StartMotionLocked(w, Displaced(bx, by, bz), TimeSpan.FromSeconds((la + lab) / v[6] + 1)));
    }

    private (string?, Motion?) Jump(Work w)
    {
        if (w.Args.Length != 7 || !TryInts(w.Args[..5], out var v))
        {
            return ("error", null);
        }

        if (v[..3].Any(c => c is < -500 or > 500) || v[3] is < 10 or > 100 || v[4] is < 0 or > 360)
        {
            return ("out of range", null);
        }

        return PadCommand(w, w.Args[5], w.Args[6]);
    }

    /// <summary>No mission pad is ever seen here, so pad commands time out as on a real drone without one.</summary>
    private (string?, Motion?) PadCommand(Work w, params string[] pads)
    {
        if (pads.Any(p => p is not ("m1" or "m2" or "m3" or "m4" or "m5" or "m6" or "m7" or "m8" or "m-1" or "m-2")))
        {
            return ("error", null);
        }

        if (MotionRefusal() is { } refusal)
        {
            return (refusal, null);
        }

        return (null, StartMotionLocked(w, CurrentPoseLocked(), TimeSpan.FromSeconds(15), successReply: "error Run timeout"));
    }

    private string? MotionRefusal()
    {
        if (!_flying)
        {
            return "error Motor stop";
        }

        if (_battery <= _options.AutoLandBattery)
        {
            return "error Auto land";
        }

        // A landing the drone started by itself is still under way.
        return _motion is not null ? "error" : null;
    }

    private Motion StartMotionLocked(Work w, Pose to, TimeSpan droneDuration, string? landingReason = null, string successReply = "ok")
    {
        var origin = CurrentPoseLocked();
        var motion = new Motion(w, origin, to, _time.GetTimestamp(), Scaled(droneDuration), _lifetime.Token)
        {
            LandingReason = landingReason,
            SuccessReply = successReply,
        };
        _motion = motion;
        return motion;
    }

    /// <summary>The pose after moving in the body frame: x forward, y left, z up (as in <c>go</c>).</summary>
    private Pose Displaced(double forward, double left, double up)
    {
        var origin = CurrentPoseLocked();
        var yaw = origin.Yaw * Math.PI / 180;
        return origin with
        {
            X = origin.X + forward * Math.Cos(yaw) + left * Math.Sin(yaw),
            Y = origin.Y + forward * Math.Sin(yaw) - left * Math.Cos(yaw),
            H = Math.Clamp(origin.H + up, 10, 3000),
        };
    }

    private string? RcLocked(string[] a)
    {
        if (a.Length != 4 || !TryInts(a, out var v))
        {
            return "error";
        }

        if (v.Any(x => x is < -100 or > 100))
        {
            return "out of range";
        }

        if (_flying)
        {
            if (_motion is null)
            {
                _pose = CurrentPoseLocked();
            }

            _rc = (v[0], v[1], v[2], v[3]);
        }

        return null;
    }

    private void ScheduleNetworkReboot() => ScheduleReboot(Scaled(WifiRebootDelay));

    private void ScheduleReboot(TimeSpan after)
    {
        var generation = _generation;
        var silence = Scaled(_options.RebootDuration);
        Background(async ct =>
        {
            if (after > TimeSpan.Zero)
            {
                await Task.Delay(after, _time, ct).ConfigureAwait(false);
            }

            lock (_gate)
            {
                if (_generation != generation)
                {
                    return;
                }
            }

            Reboot(silence);
        });
    }

    private static string? Ranged(string[] a, int min, int max)
    {
        if (a.Length != 1 || !int.TryParse(a[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            return "error";
        }

        return v < min || v > max ? "out of range" : null;
    }

    private static bool TryInts(string[] a, out int[] values)
    {
        values = new int[a.Length];
        for (var i = 0; i < a.Length; i++)
        {
            if (!int.TryParse(a[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out values[i]))
            {
                return false;
            }
        }

        return true;
    }
}
