using System.Net.Sockets;
using System.Runtime.InteropServices;
using EdgeGateway.Simulator;
using Microsoft.Extensions.Logging;

// Standalone simulator: N Tello drones on consecutive loopback addresses until Ctrl+C or SIGTERM.
var parsed = SimulatorCommandLine.Parse(args);
if (parsed.ShowHelp)
{
    Console.WriteLine(SimulatorCommandLine.Usage);
    return 0;
}

if (parsed.Options is not { } run)
{
    await Console.Error.WriteLineAsync($"error: {parsed.Error}\nRun with --help for the options.");
    return 2;
}

using var loggerFactory = LoggerFactory.Create(b => b
    .SetMinimumLevel(run.Verbose ? LogLevel.Debug : LogLevel.Information)
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
        o.UseUtcTimestamp = true;
    }));
var logger = loggerFactory.CreateLogger("EdgeGateway.Simulator");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
{
    ctx.Cancel = true;
    stop.Cancel();
});

await using var fleet = new TelloFleetSimulator(run.Drone, run.DroneCount, TimeProvider.System, loggerFactory);
try
{
    await fleet.StartAsync(stop.Token);
}
catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
{
    await Console.Error.WriteLineAsync(
        $"error: a command port is already in use ({ex.Message}). Another simulator, or a gateway bound to 0.0.0.0:{run.Drone.CommandPort}, holds it.");
    return 1;
}
catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
{
    await Console.Error.WriteLineAsync($"error: cannot bind {run.Drone.Address}: {ex.Message}. Use a local address (127.0.0.x on Linux loopback).");
    return 1;
}

ProgramLog.Running(logger, fleet.Drones.Count);
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    ProgramLog.Stopping(logger);
}

return 0;
