using System.Net;
using System.Net.Sockets;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Records;
using EdgeGateway.Time;

namespace EdgeGateway.Drones.Tests;

public sealed class PortTests
{
    private static TelloFleet Fleet(DroneOptions o) =>
        new(o, new RecordIntake(16), new SystemWallClock(TimeProvider.System), TimeProvider.System, new TestLoggerProvider().CreateFactory());

    [Fact]
    public async Task State_port_in_use_raises_a_clear_error_naming_port_and_key()
    {
        using var holder = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)holder.Client.LocalEndPoint!).Port;
        var options = FleetHarness.Options("127.0.0.2");
        options.StatePort = port;
        await using var fleet = Fleet(options);

        var ex = await Assert.ThrowsAsync<DronePortInUseException>(() => fleet.StartAsync());
        Assert.Equal(port, ex.Port);
        Assert.Equal("Drones:StatePort", ex.ConfigKey);
        Assert.Contains($"UDP port {port}", ex.Message);
        Assert.Contains("Drones:StatePort", ex.Message);
        Assert.Contains("already in use", ex.Message);
    }

    [Fact]
    public async Task Command_port_in_use_raises_a_clear_error_and_frees_nothing_it_did_not_bind()
    {
        using var holder = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)holder.Client.LocalEndPoint!).Port;
        var options = FleetHarness.Options("127.0.0.2");
        options.CommandPort = port;
        await using var fleet = Fleet(options);

        var ex = await Assert.ThrowsAsync<DronePortInUseException>(() => fleet.StartAsync());
        Assert.Equal("Drones:CommandPort", ex.ConfigKey);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [Fact]
    public async Task Sockets_are_closed_on_dispose_so_a_restart_can_bind_again()
    {
        var options = FleetHarness.Options("127.0.0.2");
        options.StatePort = FreePort.Udp();
        await using (var first = Fleet(options))
        {
            await first.StartAsync();
        }

        await using var second = Fleet(options);
        await second.StartAsync();
        Assert.Equal(options.StatePort, second.StateEndPoint!.Port);
    }

    [Fact]
    public void Invalid_options_are_refused_by_the_constructor_with_the_keys()
    {
        var options = FleetHarness.Options("not-an-ip");
        var ex = Assert.Throws<ArgumentException>(() => Fleet(options));
        Assert.Contains("Drones:Items:0:Address", ex.Message);
    }
}
