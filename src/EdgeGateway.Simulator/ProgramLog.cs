using Microsoft.Extensions.Logging;

namespace EdgeGateway.Simulator;

// Event ids 2900-2999: the standalone simulator program.
internal static partial class ProgramLog
{
    [LoggerMessage(2900, LogLevel.Information, "{Count} simulated Tello drone(s) running; Ctrl+C to stop")]
    public static partial void Running(ILogger logger, int count);

    [LoggerMessage(2901, LogLevel.Information, "Stopping")]
    public static partial void Stopping(ILogger logger);
}
