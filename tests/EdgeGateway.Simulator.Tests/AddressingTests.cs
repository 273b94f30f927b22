using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class AddressingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_drones_on_127_0_0_2_and_127_0_0_3_with_the_same_port_are_kept_apart()
    {
        var logs = new TestLoggerProvider(output);
        using var commander = new TelloCommander();
        var port = FreePort.Udp(IPAddress.Parse("127.0.0.2"));
        TelloSimulatorOptions Options(string address, string serial) => new()
        {
            Address = IPAddress.Parse(address), CommandPort = port, StatePort = commander.StatePort, TimeScale = 40, SerialNumber = serial,
        };
        await using var first = new TelloSimulator(Options("127.0.0.2", "0TQDG7BEDB0AAA"), logger: logs.CreateLogger("a"));
        await using var second = new TelloSimulator(Options("127.0.0.3", "0TQDG7BEDB0BBB"), logger: logs.CreateLogger("b"));
        await first.StartAsync().WithTimeout();
        await second.StartAsync().WithTimeout();
        Assert.Equal(port, first.CommandEndPoint.Port);
        Assert.Equal(port, second.CommandEndPoint.Port);

        commander.Drone = first.CommandEndPoint;
        Assert.Equal("ok", await commander.AskAsync("command"));
        Assert.Equal("0TQDG7BEDB0AAA", await commander.AskAsync("sn?"));
        Assert.Equal("ok", await commander.AskAsync("takeoff"));
        commander.Drone = second.CommandEndPoint;
        Assert.Equal("ok", await commander.AskAsync("command"));
        var reply = await commander.AskAsync("sn?");
        Assert.Equal("0TQDG7BEDB0BBB", reply);
        Assert.True(first.Snapshot.IsFlying);
        Assert.False(second.Snapshot.IsFlying);

        // Both send state to the same port; the source IP tells them apart.
        var sources = new HashSet<IPAddress>();
        while (sources.Count < 2)
        {
            var datagram = await commander.ReceiveStateAsync();
            sources.Add(datagram.RemoteEndPoint.Address);
            var h = TelloCommander.ParseState(Encoding.ASCII.GetString(datagram.Buffer))["h"];
            if (datagram.RemoteEndPoint.Address.Equals(IPAddress.Parse("127.0.0.3")))
            {
                Assert.Equal("0", h);
            }
        }

        Assert.Equal([IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3")], sources.OrderBy(a => a.ToString()));
        Assert.Equal(["command", "sn?", "takeoff"], first.ReceivedCommands);
        Assert.Equal(["command", "sn?"], second.ReceivedCommands);
        logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task A_taken_command_port_throws_address_already_in_use_and_a_restart_binds_again()
    {
        await using var first = new TelloSimulator(new TelloSimulatorOptions { CommandPort = 0 });
        await first.StartAsync().WithTimeout();
        var taken = first.CommandEndPoint;
        await using var second = new TelloSimulator(new TelloSimulatorOptions { Address = taken.Address, CommandPort = taken.Port });
        var error = await Assert.ThrowsAsync<SocketException>(() => second.StartAsync());
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);

        await first.DisposeAsync();
        await using var third = new TelloSimulator(new TelloSimulatorOptions { Address = taken.Address, CommandPort = taken.Port });
        await third.StartAsync().WithTimeout();
        Assert.Equal(taken, third.CommandEndPoint);
    }

    [Fact]
    public async Task Fleet_starts_drones_on_consecutive_addresses_with_distinct_serials()
    {
        using var commander = new TelloCommander();
        var logs = new TestLoggerProvider(output);
        var template = new TelloSimulatorOptions { CommandPort = 0, StatePort = commander.StatePort, TimeScale = 40 };
        template.Faults.Seed = 7;
        await using var fleet = new TelloFleetSimulator(template, 3, loggerFactory: logs.CreateFactory());
        await fleet.StartAsync().WithTimeout();
        Assert.Equal(["127.0.0.2", "127.0.0.3", "127.0.0.4"], fleet.Drones.Select(d => d.CommandEndPoint.Address.ToString()));
        var serials = new List<string>();
        foreach (var drone in fleet.Drones)
        {
            commander.Drone = drone.CommandEndPoint;
            Assert.Equal("ok", await commander.AskAsync("command"));
            var serial = await commander.AskAsync("sn?");
            Assert.Equal(14, serial.Length);
            serials.Add(serial);
        }

        Assert.Equal(3, serials.Distinct().Count());
        Assert.Equal([7, 8, 9], fleet.Drones.Select(d => d.Seed));
        logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Fleet_that_cannot_bind_stops_the_drones_it_started()
    {
        await using var blocker = new TelloSimulator(new TelloSimulatorOptions { Address = IPAddress.Parse("127.0.0.3"), CommandPort = 0 });
        await blocker.StartAsync().WithTimeout();
        var port = blocker.CommandEndPoint.Port;
        var fleet = new TelloFleetSimulator(new TelloSimulatorOptions { CommandPort = port }, 2);
        var error = await Assert.ThrowsAsync<SocketException>(() => fleet.StartAsync());
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        Assert.Empty(fleet.Drones);
        // The first drone's socket on 127.0.0.2 was released.
        await using var again = new TelloSimulator(new TelloSimulatorOptions { CommandPort = port });
        await again.StartAsync().WithTimeout();
    }

    [Fact]
    public void Fleet_refuses_addresses_past_254()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new TelloFleetSimulator(new TelloSimulatorOptions { Address = IPAddress.Parse("127.0.0.250") }, 6));
    }

    [Fact]
    public void Invalid_options_are_refused_with_every_problem_named()
    {
        var options = new TelloSimulatorOptions { TimeScale = 0, CommandPort = 70000 };
        options.Faults.DropReply = 2;
        var error = Assert.Throws<ArgumentException>(() => new TelloSimulator(options));
        Assert.Contains("TimeScale", error.Message);
        Assert.Contains("CommandPort", error.Message);
        Assert.Contains("Faults:DropReply", error.Message);
    }
}
