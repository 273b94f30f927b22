using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EdgeGateway.Tests;

/// <summary>--simulate with Simulator:ControlSocket: runtime faults from outside the process, as the soak run sends them.</summary>
public sealed class SimulatorControlTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eg-simctl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Unplugging_gps0_through_the_control_socket_closes_its_link_and_a_replug_reopens_it_and_bad_commands_are_refused()
    {
        var socket = Path.Combine(_dir, "sim.sock");
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out var port, out _);
        args.Add($"--Simulator:ControlSocket={socket}");
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        await TaskTimeouts.Eventually(() => Link(http, "gps0") == "open", () => "gps0 open\n" + gateway.Output, TimeSpan.FromSeconds(60));
        var link = Path.Combine(socket + ".tty", "gps0");
        Assert.True(File.Exists(link), $"gps0 is opened through the stable link {link}");

        Assert.StartsWith("error: unknown command", await Send(socket, "reboot everything"));
        Assert.StartsWith("error: unknown sensor \"gps9\"", await Send(socket, "serial unplug gps9"));
        Assert.StartsWith("error: unknown command", await Send(socket, "drone-link"));

        Assert.Equal("ok", await Send(socket, "serial unplug gps0"));
        Assert.False(File.Exists(link), "an unplugged adapter's link is gone, as udev removes it");
        await TaskTimeouts.Eventually(() => Link(http, "gps0") is { } l && l != "open", () => "gps0 no longer open\n" + gateway.Output, TimeSpan.FromSeconds(30));

        Assert.Equal("ok", await Send(socket, "serial replug gps0"));
        Assert.True(File.Exists(link), "a replugged adapter is behind the same link");
        await TaskTimeouts.Eventually(() => Link(http, "gps0") == "open", () => "gps0 open again\n" + gateway.Output, TimeSpan.FromSeconds(60));

        Assert.Equal("ok", await Send(socket, "drone-link lose"));
        Assert.Equal("ok", await Send(socket, "drone-link return"));
    }

    private static async Task<string> Send(string path, string command)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(path)).WithTimeout();
        await using var stream = new NetworkStream(s);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(command + "\n")).AsTask().WithTimeout();
        using var reader = new StreamReader(stream);
        return await reader.ReadLineAsync().WithTimeout() ?? "";
    }

    private static string? Link(HttpClient http, string id)
    {
        try
        {
            var all = http.GetFromJsonAsync<JsonElement>("/api/sensors").WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            foreach (var s in all.GetProperty("sensors").EnumerateArray())
            {
                if (s.GetProperty("id").GetString() == id)
                {
                    return s.GetProperty("link").GetString();
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or TimeoutException)
        {
        }

        return null;
    }
}
