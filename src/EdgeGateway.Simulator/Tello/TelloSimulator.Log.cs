using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Simulator;

public sealed partial class TelloSimulator
{
    // Event ids 2000-2099: the Tello simulator.
    private static partial class Log
    {
        [LoggerMessage(2000, LogLevel.Information, "Tello {Serial} listening on {EndPoint} (state format {Format}, time scale {TimeScale}, fault seed {Seed})")]
        public static partial void Started(ILogger logger, string serial, IPEndPoint endPoint, TelloSdkFormat format, double timeScale, int seed);

        [LoggerMessage(2001, LogLevel.Information, "Tello {Serial} on {EndPoint} stopped")]
        public static partial void Stopped(ILogger logger, string serial, IPEndPoint endPoint);

        [LoggerMessage(2002, LogLevel.Information, "Tello {Serial} entered SDK mode; state goes to {Commander}")]
        public static partial void SdkMode(ILogger logger, string serial, IPEndPoint commander);

        [LoggerMessage(2003, LogLevel.Debug, "Tello {Serial} <- \"{Command}\" from {Sender}")]
        public static partial void CommandIn(ILogger logger, string serial, string command, IPEndPoint sender);

        [LoggerMessage(2004, LogLevel.Debug, "Tello {Serial} -> \"{Reply}\" for \"{Command}\" to {Target}")]
        public static partial void ReplyOut(ILogger logger, string serial, string command, string reply, IPEndPoint target);

        [LoggerMessage(2005, LogLevel.Debug, "Tello {Serial} started \"{Command}\" for {Duration}")]
        public static partial void MotionStarted(ILogger logger, string serial, string command, TimeSpan duration);

        [LoggerMessage(2006, LogLevel.Information, "Tello {Serial} fault: reply \"{Reply}\" to \"{Command}\" dropped")]
        public static partial void ReplyDropped(ILogger logger, string serial, string command, string reply);

        [LoggerMessage(2007, LogLevel.Warning, "Tello {Serial}: emergency, motors stopped")]
        public static partial void Emergency(ILogger logger, string serial);

        [LoggerMessage(2008, LogLevel.Information, "Tello {Serial}: 15 s without a command, auto-landing")]
        public static partial void AutoLand(ILogger logger, string serial);

        [LoggerMessage(2009, LogLevel.Warning, "Tello {Serial}: battery {Battery}%, landing")]
        public static partial void BatteryLanding(ILogger logger, string serial, int battery);

        [LoggerMessage(2010, LogLevel.Information, "Tello {Serial} rebooting: silent for {Silence}, SDK mode lost")]
        public static partial void Rebooting(ILogger logger, string serial, TimeSpan silence);

        [LoggerMessage(2011, LogLevel.Information, "Tello {Serial} is back after reboot")]
        public static partial void RebootDone(ILogger logger, string serial);

        [LoggerMessage(2012, LogLevel.Warning, "Tello {Serial}: command queue full, \"{Command}\" dropped")]
        public static partial void QueueFull(ILogger logger, string serial, string command);

        [LoggerMessage(2020, LogLevel.Error, "Tello {Serial}: receive failed")]
        public static partial void ReceiveFailed(ILogger logger, string serial, Exception error);

        [LoggerMessage(2021, LogLevel.Error, "Tello {Serial}: executing \"{Command}\" failed")]
        public static partial void ExecuteFailed(ILogger logger, string serial, string command, Exception error);

        [LoggerMessage(2022, LogLevel.Error, "Tello {Serial}: state tick failed")]
        public static partial void StateTickFailed(ILogger logger, string serial, Exception error);

        [LoggerMessage(2023, LogLevel.Error, "Tello {Serial}: background work failed")]
        public static partial void BackgroundFailed(ILogger logger, string serial, Exception error);

        [LoggerMessage(2024, LogLevel.Warning, "Tello {Serial}: a CommandReceived handler threw")]
        public static partial void HandlerFailed(ILogger logger, string serial, Exception error);

        [LoggerMessage(2025, LogLevel.Debug, "Tello {Serial}: send to {Target} failed ({Error})")]
        public static partial void SendFailed(ILogger logger, string serial, IPEndPoint target, SocketError error);

        [LoggerMessage(2026, LogLevel.Information, "Tello {Serial}: injected fault: state paused for {Seconds:0.0} s")]
        public static partial void StatePauseInjected(ILogger logger, string serial, double seconds);
    }
}
