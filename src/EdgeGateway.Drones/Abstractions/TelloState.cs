namespace EdgeGateway.Drones;

/// <summary>
/// One parsed Tello state datagram. Every field is nullable: firmware versions differ and a
/// datagram may lack keys. Units are the drone's own, named in the property.
/// </summary>
public sealed record TelloState
{
    public int? MissionPadId { get; init; }
    public int? MissionPadX { get; init; }
    public int? MissionPadY { get; init; }
    public int? MissionPadZ { get; init; }
    /// <summary>Mission pad pitch, roll, yaw (the comma-separated <c>mpry</c> key).</summary>
    public (int Pitch, int Roll, int Yaw)? MissionPadAttitude { get; init; }
    public int? PitchDeg { get; init; }
    public int? RollDeg { get; init; }
    public int? YawDeg { get; init; }
    /// <summary>Speed (vgx, vgy, vgz) as the drone reports it (commonly read as dm/s).</summary>
    public int? SpeedX { get; init; }
    public int? SpeedY { get; init; }
    public int? SpeedZ { get; init; }
    public int? TemperatureLowC { get; init; }
    public int? TemperatureHighC { get; init; }
    /// <summary>Time-of-flight distance to the ground, cm.</summary>
    public int? TofCm { get; init; }
    /// <summary>Height relative to the takeoff point, cm.</summary>
    public int? HeightCm { get; init; }
    public int? BatteryPercent { get; init; }
    /// <summary>Barometer as reported (absolute and drifting).</summary>
    public double? Barometer { get; init; }
    /// <summary>Motor-on time, seconds.</summary>
    public int? FlightTimeS { get; init; }
    /// <summary>Acceleration in 0.001 g.</summary>
    public double? AccelX { get; init; }
    public double? AccelY { get; init; }
    public double? AccelZ { get; init; }
    /// <summary>Keys this parser does not know, kept verbatim.</summary>
    public IReadOnlyDictionary<string, string>? UnknownKeys { get; init; }
    /// <summary>The datagram text after trimming.</summary>
    public string Raw { get; init; } = "";
}
