using Microsoft.Extensions.Configuration;

namespace EdgeGateway.Drones.Tests;

public sealed class DroneOptionsTests
{
    private static DroneOptions Valid()
    {
        var o = new DroneOptions();
        o.Items.Add(new DroneEndpointOptions { Id = "tello-1", Address = "192.168.10.1" });
        return o;
    }

    [Fact]
    public void Defaults_with_one_drone_are_valid() => Assert.Empty(Valid().Validate("Drones"));

    [Theory]
    [InlineData("x:y:z")]
    [InlineData("")]
    [InlineData("drone.local")]
    [InlineData("10.0.0.1:99999")]
    [InlineData("10.0.0.1:0")]
    public void Bad_address_is_reported_with_its_key_and_the_allowed_form(string address)
    {
        var o = Valid();
        o.Items[0].Address = address;
        var message = Assert.Single(o.Validate("Drones"));
        Assert.StartsWith("Drones:Items:0:Address:", message);
        Assert.Contains("HOST or HOST:PORT", message);
    }

    [Fact]
    public void Duplicate_ids_and_addresses_are_reported()
    {
        var o = Valid();
        o.Items.Add(new DroneEndpointOptions { Id = "tello-1", Address = "192.168.10.1:8889" });
        var messages = o.Validate("Drones").ToList();
        Assert.Contains(messages, m => m.StartsWith("Drones:Items:1:Id:", StringComparison.Ordinal) && m.Contains("unique"));
        Assert.Contains(messages, m => m.StartsWith("Drones:Items:1:Address:", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_bad_scalar_is_reported_at_once_with_its_key()
    {
        var o = Valid();
        o.Items[0].Id = "bad id!";
        o.LocalAddress = "localhost";
        o.CommandPort = -1;
        o.StatePort = 70000;
        o.CommandTimeout = TimeSpan.Zero;
        o.KeepaliveInterval = TimeSpan.FromSeconds(20);
        o.LostAfter = TimeSpan.FromMilliseconds(500);
        o.ReadRetries = 9;
        o.QueueCapacity = 0;
        var messages = o.Validate("Drones").ToList();
        foreach (var key in new[] { "Drones:Items:0:Id:", "Drones:LocalAddress:", "Drones:CommandPort:", "Drones:StatePort:",
                     "Drones:CommandTimeout:", "Drones:KeepaliveInterval:", "Drones:LostAfter:", "Drones:ReadRetries:", "Drones:QueueCapacity:" })
        {
            Assert.Contains(messages, m => m.StartsWith(key, StringComparison.Ordinal));
        }

        Assert.Contains(messages, m => m.StartsWith("Drones:KeepaliveInterval:", StringComparison.Ordinal) && m.Contains("00:00:14"));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(61)]
    public void Not_joystick_hover_timeout_outside_0_to_1_minute_is_refused_with_its_key(int seconds)
    {
        var o = Valid();
        o.NotJoystickHoverTimeout = TimeSpan.FromSeconds(seconds);
        var message = Assert.Single(o.Validate("Drones"));
        Assert.StartsWith("Drones:NotJoystickHoverTimeout:", message, StringComparison.Ordinal);
        Assert.Contains("00:01:00", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Same_command_and_state_port_is_refused()
    {
        var o = Valid();
        o.StatePort = o.CommandPort;
        Assert.Contains(o.Validate("Drones"), m => m.StartsWith("Drones:StatePort:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("192.168.10.1", "192.168.10.1", 8889)]
    [InlineData("127.0.0.2:9000", "127.0.0.2", 9000)]
    [InlineData("[::1]:8889", "::1", 8889)]
    [InlineData("[::1]", "::1", 8889)]
    [InlineData("::1", "::1", 8889)]
    public void Address_forms_parse(string text, string ip, int port)
    {
        Assert.True(DroneOptions.TryParseAddress(text, out var ep));
        Assert.Equal(System.Net.IPAddress.Parse(ip), ep.Address);
        Assert.Equal(port, ep.Port);
    }

    [Fact]
    public void Repeated_drone_arguments_become_numbered_entries()
    {
        var items = DroneOptions.FromCommandLine(["192.168.1.20", " 192.168.1.21:8889 "]);
        Assert.Equal(["tello-1", "tello-2"], items.Select(i => i.Id));
        Assert.Equal("192.168.1.21:8889", items[1].Address);
    }

    [Fact]
    public void Options_bind_from_configuration_section()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Drones:Items:0:Id"] = "a",
            ["Drones:Items:0:Address"] = "10.0.0.5",
            ["Drones:CommandTimeout"] = "00:00:03",
            ["Drones:StatePort"] = "9890",
        }).Build();
        var o = new DroneOptions();
        ConfigurationBinder.Bind(config.GetSection("Drones"), o);
        Assert.Equal("10.0.0.5", o.Items[0].Address);
        Assert.Equal(TimeSpan.FromSeconds(3), o.CommandTimeout);
        Assert.Equal(9890, o.StatePort);
        Assert.Empty(o.Validate("Drones"));
    }
}
