namespace EdgeGateway;

/// <summary>Exit codes, after sysexits.h, so systemd and scripts can tell failures apart.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Unexpected failure.</summary>
    public const int Failure = 1;
    /// <summary>Bad command line (EX_USAGE is 64; 2 is what most tools use).</summary>
    public const int Usage = 2;
    /// <summary>A port or device needed at start is taken or missing (EX_UNAVAILABLE).</summary>
    public const int Unavailable = 69;
    /// <summary>Invalid configuration (EX_CONFIG).</summary>
    public const int Config = 78;
}
