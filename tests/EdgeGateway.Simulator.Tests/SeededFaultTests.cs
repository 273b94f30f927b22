using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

/// <summary>The seeded state-pause and reboot faults, on a manual clock so every run is the same.</summary>
public sealed class SeededFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>Enters SDK mode, then runs <paramref name="ticks"/> state ticks; returns the injected faults and, per tick, whether state went out.</summary>
    private async Task<(IReadOnlyList<string> Faults, List<bool> Sent)> RunStateAsync(int seed, int ticks)
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o =>
        {
            o.TimeScale = 1;
            o.AutoLandTimeout = Timeout.InfiniteTimeSpan;
            o.Faults.Seed = seed;
            o.Faults.StatePause = 0.3;
            o.Faults.StatePauseMin = TimeSpan.FromSeconds(1);
            o.Faults.StatePauseMax = TimeSpan.FromSeconds(3);
        }, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        var sent = new List<bool>();
        for (var i = 0; i < ticks; i++)
        {
            var before = h.Simulator.Snapshot.StateDatagramsSent;
            clock.Advance(Tick);
            var s = h.Simulator.Snapshot;
            sent.Add(s.StateDatagramsSent > before);
            // While the snapshot says paused, no state went out on this tick (the tick runs at its due time, a little
            // before the snapshot, so at the end of a pause the tick may still be silent while the snapshot is not).
            Assert.False(s.StatePaused && sent[^1], $"tick {i}: state sent while paused");
        }

        h.Commander.Send("sn?"); // commands are still answered
        Assert.Equal("0TQDG7BEDB0E9P", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        return (h.Simulator.InjectedFaults, sent);
    }

    [Fact]
    public async Task State_pauses_are_seeded_last_their_drawn_time_and_repeat_exactly_with_the_same_seed()
    {
        var (faults, sent) = await RunStateAsync(seed: 42, ticks: 600); // 60 s
        var pauses = faults.Where(f => f.StartsWith("state pause ", StringComparison.Ordinal)).ToList();
        // 0.3 per second over 60 s minus the paused time: several pauses, never none.
        Assert.InRange(pauses.Count, 3, 40);
        foreach (var p in pauses)
        {
            var seconds = double.Parse(p["state pause ".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(seconds, 1.0, 3.0);
        }

        // Each pause silences the stream for its drawn length (10 ticks a second); a pause may start on the tick
        // the previous one ends, so back-to-back pauses make one longer silence, and the last one may be cut off.
        var silentRuns = Runs(sent, false);
        Assert.InRange(silentRuns.Count, 1, pauses.Count);
        Assert.All(silentRuns[..^1], n => Assert.True(n >= 9, $"a silence of {n} ticks"));
        var drawn = pauses.Sum(p => double.Parse(p["state pause ".Length..^1], System.Globalization.CultureInfo.InvariantCulture)) * 10;
        Assert.InRange(sent.Count(x => !x), 9, drawn + pauses.Count);

        var again = await RunStateAsync(seed: 42, ticks: 600);
        Assert.Equal(faults, again.Faults);
        Assert.Equal(sent, again.Sent);
        var other = await RunStateAsync(seed: 43, ticks: 600);
        Assert.NotEqual(faults, other.Faults);
    }

    private static List<int> Runs(List<bool> values, bool value)
    {
        var runs = new List<int>();
        var n = 0;
        foreach (var v in values)
        {
            if (v == value)
            {
                n++;
            }
            else if (n > 0)
            {
                runs.Add(n);
                n = 0;
            }
        }

        if (n > 0)
        {
            runs.Add(n);
        }

        return runs;
    }

    /// <summary>Sends battery? n times; after a reboot, waits it out and re-enters SDK mode. Returns the command indexes that rebooted.</summary>
    private async Task<(List<int> Rebooted, IReadOnlyList<string> Faults)> RunRebootsAsync(int seed, int commands)
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o =>
        {
            o.TimeScale = 1;
            o.AutoLandTimeout = Timeout.InfiniteTimeSpan;
            o.RebootDuration = TimeSpan.FromSeconds(5);
            o.Faults.Seed = seed;
            o.Faults.Reboot = 0.2;
        }, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        var rebooted = new List<int>();
        for (var i = 0; i < commands; i++)
        {
            var before = h.Simulator.Snapshot.CommandsReceived;
            h.Commander.Send("battery?");
            await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.CommandsReceived > before, "heard");
            if (h.Simulator.Snapshot.Rebooting)
            {
                rebooted.Add(i);
                Assert.False(h.Simulator.Snapshot.InSdkMode);
                clock.Advance(TimeSpan.FromSeconds(4.9));
                Assert.True(h.Simulator.Snapshot.Rebooting, "silent for RebootDuration");
                clock.Advance(TimeSpan.FromSeconds(0.2));
                await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.Rebooting, "reboot over");
                await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(50)); // the lost command never got a reply
                h.Commander.Send("command");
                Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
            }
            else
            {
                Assert.Equal("100", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
            }
        }

        return (rebooted, h.Simulator.InjectedFaults);
    }

    [Fact]
    public async Task Reboots_are_seeded_per_command_lose_the_command_and_need_command_again()
    {
        var (rebooted, faults) = await RunRebootsAsync(seed: 7, commands: 40);
        Assert.InRange(rebooted.Count, 2, 20);
        Assert.Equal(rebooted.Count, faults.Count(f => f.Contains(" reboot battery?", StringComparison.Ordinal)));
        var again = await RunRebootsAsync(seed: 7, commands: 40);
        Assert.Equal(rebooted, again.Rebooted);
        Assert.Equal(faults, again.Faults);
    }

    [Fact]
    public async Task A_reboot_fault_in_flight_lands_the_drone()
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o =>
        {
            o.TimeScale = 1;
            o.Faults.Reboot = 1; // the first command heard in SDK mode reboots it
        }, clock);
        h.Commander.Send("command"); // entering SDK mode is never a reboot
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        h.Commander.Send("takeoff");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.Rebooting, "rebooted");
        var s = h.Simulator.Snapshot;
        Assert.False(s.IsFlying);
        Assert.Contains(h.Simulator.InjectedFaults, f => f.EndsWith(" reboot takeoff", StringComparison.Ordinal));
    }

    [Fact]
    public void The_new_fault_options_bind_from_configuration_and_are_validated()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Simulator:Faults:Reboot"] = "0.01",
            ["Simulator:Faults:StatePause"] = "0.05",
            ["Simulator:Faults:StatePauseMin"] = "00:00:01",
            ["Simulator:Faults:StatePauseMax"] = "00:00:04",
        }).Build();
        var options = new SimulatorOptions();
        config.GetSection("Simulator").Bind(options);
        Assert.Empty(options.Validate("Simulator"));
        var tello = options.ToTelloOptions();
        Assert.Equal(0.01, tello.Faults.Reboot);
        Assert.Equal(0.05, tello.Faults.StatePause);
        Assert.Equal(TimeSpan.FromSeconds(1), tello.Faults.StatePauseMin);
        Assert.Equal(TimeSpan.FromSeconds(4), tello.Faults.StatePauseMax);

        var bad = new SimulatorOptions();
        bad.Faults.Reboot = 1.5;
        bad.Faults.StatePause = -0.1;
        bad.Faults.StatePauseMin = TimeSpan.Zero;
        var errors = bad.Validate("Simulator").ToList();
        Assert.Contains(errors, e => e.StartsWith("Simulator:Faults:Reboot: must be a probability between 0 and 1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Simulator:Faults:StatePause: must be a probability between 0 and 1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Simulator:Faults:StatePauseMin: must be above 0", StringComparison.Ordinal));

        var inverted = new SimulatorOptions();
        inverted.Faults.StatePauseMin = TimeSpan.FromSeconds(5);
        inverted.Faults.StatePauseMax = TimeSpan.FromSeconds(2);
        Assert.Contains(inverted.Validate("Simulator"), e => e.StartsWith("Simulator:Faults:StatePauseMax: must be at least StatePauseMin", StringComparison.Ordinal));
    }

    [Fact]
    public void The_command_line_sets_the_new_faults_and_refuses_bad_values()
    {
        var o = SimulatorCommandLine.Parse(["--reboot", "0.02", "--state-pause=0.1", "--state-pause-min", "1.5", "--state-pause-max", "6"]).Options!.Drone;
        Assert.Equal(0.02, o.Faults.Reboot);
        Assert.Equal(0.1, o.Faults.StatePause);
        Assert.Equal(TimeSpan.FromSeconds(1.5), o.Faults.StatePauseMin);
        Assert.Equal(TimeSpan.FromSeconds(6), o.Faults.StatePauseMax);

        Assert.StartsWith("--reboot must be a probability between 0 and 1", SimulatorCommandLine.Parse(["--reboot", "2"]).Error);
        Assert.StartsWith("--state-pause must be a probability between 0 and 1", SimulatorCommandLine.Parse(["--state-pause", "x"]).Error);
        Assert.StartsWith("--state-pause-min must be a number of seconds above 0", SimulatorCommandLine.Parse(["--state-pause-min", "0"]).Error);
        Assert.StartsWith("--state-pause-max must be a number of seconds above 0", SimulatorCommandLine.Parse(["--state-pause-max", "soon"]).Error);
        var inverted = SimulatorCommandLine.Parse(["--state-pause-min", "3", "--state-pause-max", "1"]).Error;
        Assert.True(inverted?.StartsWith("--state-pause-max (1 s) must be at least --state-pause-min (3 s)", StringComparison.Ordinal), inverted);
        Assert.Contains("--state-pause P", SimulatorCommandLine.Usage, StringComparison.Ordinal);
        Assert.Contains("--reboot P", SimulatorCommandLine.Usage, StringComparison.Ordinal);
    }
}
