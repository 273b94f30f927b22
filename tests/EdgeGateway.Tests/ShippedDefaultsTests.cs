using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace EdgeGateway.Tests;

/// <summary>
/// The README's run command as written: the shipped config/appsettings.json, the default ports (3002 for the
/// local API, 8889/8890 for the drone link, the simulator on 127.0.0.2:8889), run from the repository root.
/// Every other daemon test uses isolated ports, so only this one exercises the defaults.
/// </summary>
public sealed class ShippedDefaultsTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-defaults-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task The_readme_run_command_serves_the_simulated_drone_on_port_3002_with_the_shipped_configuration()
    {
        // The defaults need these ports; a machine where something holds them cannot run this test, and says who.
        var busy = new List<string>();
        busy.AddRange(PortHolders.CheckTcp(IPAddress.Any, 3002));
        busy.AddRange(PortHolders.CheckUdp(IPAddress.Any, 8889));
        busy.AddRange(PortHolders.CheckUdp(IPAddress.Any, 8890));
        busy.AddRange(PortHolders.CheckUdp(IPAddress.Parse("127.0.0.2"), 8889));
        Assert.True(busy.Count == 0,
            "the default ports must be free for this test (stop what holds them, e.g. a running edge-gateway):\n  " + string.Join("\n  ", busy));

        // Only --data-dir differs from `dotnet run --project src/EdgeGateway -- --simulate`, to keep ./data clean.
        await using var gateway = GatewayProcess.Start(["--simulate", "--data-dir", _dataDir], workingDirectory: RepositoryRoot());
        using var http = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:3002"), Timeout = TimeSpan.FromSeconds(10) };

        JsonElement status = default;
        await TaskTimeouts.Eventually(() =>
        {
            status = TryGetJson(http, "/api/drone/status");
            return gateway.HasExited || (status.ValueKind == JsonValueKind.Object && status.GetProperty("connected").GetBoolean());
        }, () => "the simulated drone shows as connected on 127.0.0.1:3002\n" + gateway.Output, TimeSpan.FromSeconds(45));

        Assert.False(gateway.HasExited, gateway.Output);
        Assert.InRange(status.GetProperty("battery").GetInt32(), 1, 100);
        Assert.Contains("0.0.0.0:3002", gateway.Output, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeGateway.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no EdgeGateway.sln above {AppContext.BaseDirectory}");
    }

    private static JsonElement TryGetJson(HttpClient http, string path)
    {
        try
        {
            return http.GetFromJsonAsync<JsonElement>(path).WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException)
        {
            return default;
        }
    }
}

/// <summary>Whether a port can be bound, and if not, which processes hold a socket on it (from /proc).</summary>
internal static class PortHolders
{
    public static IEnumerable<string> CheckTcp(IPAddress address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        return TryBind(socket, address, port) ? [] : [$"tcp {address}:{port} is in use by {Holders("tcp", port)}"];
    }

    public static IEnumerable<string> CheckUdp(IPAddress address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        return TryBind(socket, address, port) ? [] : [$"udp {address}:{port} is in use by {Holders("udp", port)}"];
    }

    private static bool TryBind(Socket socket, IPAddress address, int port)
    {
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            return false;
        }
    }

    private static string Holders(string protocol, int port)
    {
        // /proc/net/{tcp,udp}[6]: local address "HEXIP:HEXPORT" in column 2, socket inode in column 10.
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        var hexPort = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var table in new[] { $"/proc/net/{protocol}", $"/proc/net/{protocol}6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (columns.Length > 9 && columns[1].EndsWith(hexPort, StringComparison.Ordinal))
                {
                    inodes.Add($"socket:[{columns[9]}]");
                }
            }
        }

        var holders = new List<string>();
        foreach (var process in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd"))
                    .Any(fd => new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target)))
                {
                    var cmdline = File.ReadAllText(Path.Combine(process, "cmdline")).Replace('\0', ' ').Trim();
                    holders.Add($"pid {Path.GetFileName(process)} ({cmdline})");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // another user's process or one that just exited
            }
        }

        return holders.Count > 0 ? string.Join(", ", holders) : "a process this user cannot see (try: sudo ss -lntup)";
    }
}
