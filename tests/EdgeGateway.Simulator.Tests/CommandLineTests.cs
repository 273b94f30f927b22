using System.Diagnostics;
using System.Net;

namespace EdgeGateway.Simulator.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public void No_arguments_give_one_drone_with_the_defaults()
    {
        var result = SimulatorCommandLine.Parse([]);
        Assert.False(result.IsError);
        Assert.False(result.ShowHelp);
        var run = result.Options!;
        Assert.Equal(1, run.DroneCount);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), run.Drone.Address);
        Assert.Equal(8889, run.Drone.CommandPort);
        Assert.Equal(8890, run.Drone.StatePort);
        Assert.Equal(TelloSdkFormat.Sdk20, run.Drone.Format);
        Assert.Equal(1.0, run.Drone.TimeScale);
        Assert.Null(run.Drone.Faults.Seed);
        Assert.Equal(BusyBehaviour.Error, run.Drone.WhileBusy);
        Assert.False(run.Drone.ErrorBeforeSdkMode);
    }

    [Fact]
    public void Every_option_is_parsed()
    {
        var result = SimulatorCommandLine.Parse([
            "--drones", "3", "--address", "127.0.0.10", "--command-port", "9889", "--state-port=9890", "--format", "3.0",
            "--time-scale", "12.5", "--seed", "-4", "--drop-command", "0.1", "--drop-reply", "0.2", "--late-reply", "0.3",
            "--duplicate-reply", "0.4", "--garbage", "0.5", "--corrupt-state", "1", "--busy", "not-joystick", "--error-before-sdk",
            "--verbose", "--not-joystick", "0.6", "--no-valid-imu", "0.7", "--takeoff-error", "0.8", "--uppercase-ok", "--pad-replies",
            "--old-firmware",
        ]);
        Assert.Null(result.Error);
        var run = result.Options!;
        var o = run.Drone;
        Assert.Equal(3, run.DroneCount);
        Assert.True(run.Verbose);
        Assert.Equal(IPAddress.Parse("127.0.0.10"), o.Address);
        Assert.Equal(9889, o.CommandPort);
        Assert.Equal(9890, o.StatePort);
        Assert.Equal(TelloSdkFormat.Sdk30, o.Format);
        Assert.Equal(12.5, o.TimeScale);
        Assert.Equal(-4, o.Faults.Seed);
        Assert.Equal([0.1, 0.2, 0.3, 0.4, 0.5, 1.0],
            new[] { o.Faults.DropCommand, o.Faults.DropReply, o.Faults.LateReply, o.Faults.DuplicateReply, o.Faults.GarbageDatagram, o.Faults.CorruptState });
        Assert.Equal([0.6, 0.7, 0.8], new[] { o.Faults.NotJoystick, o.Faults.NoValidImu, o.Faults.TakeoffErrorButFlies });
        Assert.True(o.Faults.UppercaseOk && o.Faults.PadReplies && o.Faults.OldFirmwareUnknownCommand);
        Assert.Equal(BusyBehaviour.NotJoystick, o.WhileBusy);
        Assert.True(o.ErrorBeforeSdkMode);
    }

    [Theory]
    [InlineData("1.3", TelloSdkFormat.Sdk13)]
    [InlineData("2.0", TelloSdkFormat.Sdk20)]
    [InlineData("3.0", TelloSdkFormat.Sdk30)]
    public void Formats_are_parsed(string value, TelloSdkFormat expected)
        => Assert.Equal(expected, SimulatorCommandLine.Parse(["--format", value]).Options!.Drone.Format);

    [Theory]
    [InlineData("queue", BusyBehaviour.Queue)]
    [InlineData("error", BusyBehaviour.Error)]
    [InlineData("not-joystick", BusyBehaviour.NotJoystick)]
    [InlineData("drop", BusyBehaviour.Drop)]
    public void Busy_behaviours_are_parsed(string value, BusyBehaviour expected)
        => Assert.Equal(expected, SimulatorCommandLine.Parse(["--busy", value]).Options!.Drone.WhileBusy);

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_is_recognised(string flag)
    {
        var result = SimulatorCommandLine.Parse(["--drones", "2", flag]);
        Assert.True(result.ShowHelp);
        Assert.Contains("--drones N", SimulatorCommandLine.Usage);
    }

    [Theory]
    [InlineData(new[] { "--drones", "0" }, "--drones must be a whole number 1..100")]
    [InlineData(new[] { "--drones", "two" }, "--drones must be a whole number 1..100")]
    [InlineData(new[] { "--drones", "101" }, "--drones must be a whole number 1..100")]
    [InlineData(new[] { "--address", "localhost" }, "--address must be an IPv4 address")]
    [InlineData(new[] { "--address", "::1" }, "--address must be an IPv4 address")]
    [InlineData(new[] { "--address", "127.1" }, "--address must be an IPv4 address")]
    [InlineData(new[] { "--command-port", "65536" }, "--command-port must be 0..65535")]
    [InlineData(new[] { "--command-port", "-1" }, "--command-port must be 0..65535")]
    [InlineData(new[] { "--state-port", "0" }, "--state-port must be 1..65535")]
    [InlineData(new[] { "--format", "2" }, "--format must be 1.3, 2.0 or 3.0")]
    [InlineData(new[] { "--time-scale", "0" }, "--time-scale must be a number above 0")]
    [InlineData(new[] { "--time-scale", "fast" }, "--time-scale must be a number above 0")]
    [InlineData(new[] { "--seed", "1.5" }, "--seed must be a whole number")]
    [InlineData(new[] { "--drop-command", "1.5" }, "--drop-command must be a probability between 0 and 1")]
    [InlineData(new[] { "--drop-reply", "-0.1" }, "--drop-reply must be a probability between 0 and 1")]
    [InlineData(new[] { "--late-reply", "x" }, "--late-reply must be a probability between 0 and 1")]
    [InlineData(new[] { "--duplicate-reply", "NaN" }, "--duplicate-reply must be a probability between 0 and 1")]
    [InlineData(new[] { "--garbage", "2" }, "--garbage must be a probability between 0 and 1")]
    [InlineData(new[] { "--corrupt-state", "5%" }, "--corrupt-state must be a probability between 0 and 1")]
    [InlineData(new[] { "--busy", "wait" }, "--busy must be queue, error, not-joystick or drop")]
    [InlineData(new[] { "--not-joystick", "3" }, "--not-joystick must be a probability between 0 and 1")]
    [InlineData(new[] { "--no-valid-imu", "-1" }, "--no-valid-imu must be a probability between 0 and 1")]
    [InlineData(new[] { "--takeoff-error", "y" }, "--takeoff-error must be a probability between 0 and 1")]
    [InlineData(new[] { "--bogus" }, "unknown option --bogus")]
    [InlineData(new[] { "stray" }, "unexpected argument \"stray\"")]
    [InlineData(new[] { "--drones" }, "--drones needs a value")]
    [InlineData(new[] { "--drones", "10", "--address", "127.0.0.250" }, "would run past .254")]
    public void Bad_arguments_give_a_clear_error(string[] args, string expected)
    {
        var result = SimulatorCommandLine.Parse(args);
        Assert.True(result.IsError);
        Assert.Null(result.Options);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_program_prints_the_error_and_exits_2_on_bad_arguments_and_0_on_help()
    {
        var (code, stdout, stderr) = await RunProgramAsync("--format", "4");
        Assert.Equal(2, code);
        Assert.Contains("--format must be 1.3, 2.0 or 3.0 (got \"4\")", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);

        (code, stdout, _) = await RunProgramAsync("--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: EdgeGateway.Simulator", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_program_runs_drones_until_SIGTERM()
    {
        var port = FreePort.Udp(IPAddress.Parse("127.0.0.5"));
        using var process = StartProgram("--drones", "2", "--address", "127.0.0.5", "--command-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var commander = new TelloCommander { Drone = new IPEndPoint(IPAddress.Parse("127.0.0.6"), port) };
            string? reply = null;
            for (var attempt = 0; attempt < 100 && reply is null; attempt++)
            {
                commander.Send("command");   // resent until the program is up
                reply = await commander.TryReplyAsync(TimeSpan.FromMilliseconds(200));
            }

            Assert.Equal("ok", reply);
            // Resent `command`s may still be answered: skip their stale "ok"s.
            commander.Send("sn?");
            var serial = await commander.ReplyAsync();
            while (serial == "ok")
            {
                serial = await commander.ReplyAsync();
            }

            Assert.Equal("0TQDG7BEDB0001", serial);
        }
        finally
        {
            Assert.Equal(0, SysKill(process.Id, 15));
        }

        await process.WaitForExitAsync().WithTimeout();
        Assert.Equal(0, process.ExitCode);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    private static Process StartProgram(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EdgeGateway.Simulator.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunProgramAsync(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EdgeGateway.Simulator.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout, await stderr);
    }
}
