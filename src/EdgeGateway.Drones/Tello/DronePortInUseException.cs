namespace EdgeGateway.Drones;

/// <summary>
/// A local UDP port the drone link needs is already bound. The daemon turns this into an exit
/// code; the message names the port, the configuration key and what usually holds it.
/// </summary>
public sealed class DronePortInUseException : Exception
{
    public DronePortInUseException(string localAddress, int port, string configKey, Exception? inner = null)
        : base($"UDP port {port} on {localAddress} ({configKey}) is already in use. Usually another edge-gateway instance, " +
               "a Tello SDK script (DJITelloPy, the Tello app bridge) or a simulator bound to 0.0.0.0 holds it; " +
               $"stop it (e.g. `ss -ulpn | grep :{port}` shows the process) or set {configKey} to a free port.", inner)
    {
        LocalAddress = localAddress;
        Port = port;
        ConfigKey = configKey;
    }

    public string LocalAddress { get; }

    public int Port { get; }

    /// <summary>The configuration key that chose the port, e.g. <c>Drones:StatePort</c>.</summary>
    public string ConfigKey { get; }
}
