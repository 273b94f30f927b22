using System.Net;

namespace EdgeGateway.TestSupport;

/// <summary>
/// Distinct loopback addresses (127.x.y.z) for simulated drones, so tests running in parallel, in this
/// process or another test assembly, never contend for the same address:port.
/// </summary>
public static class LoopbackAddress
{
    private static int _next = Random.Shared.Next(0, 200_000);

    /// <summary>A fresh address in 127.100.0.0 – 127.250.255.200, leaving room for <paramref name="following"/> more after it.</summary>
    public static IPAddress Next(int following = 0)
    {
        var n = Interlocked.Add(ref _next, following + 1) % 3_000_000;
        var b = 100 + (n / 40_000 % 150);
        var c = n / 200 % 200;
        var d = 2 + (n % 200);
        if (d + following > 254)
        {
            d = 2;
        }

        return new IPAddress([127, (byte)b, (byte)c, (byte)d]);
    }
}
