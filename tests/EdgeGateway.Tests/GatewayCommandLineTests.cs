using EdgeGateway.CommandLine;

namespace EdgeGateway.Tests;

public sealed class GatewayCommandLineTests
{
    [Fact]
    public void Own_flags_are_taken_and_the_rest_is_left_for_configuration()
    {
        Assert.True(GatewayCommandLine.TryParse(
            ["--simulate", "--drone", "192.168.10.1", "--drone=10.0.0.5:8889", "--urls", "http://127.0.0.1:0",
             "--LocalApi:MaxConnections=5", "--data-dir", "/tmp/x", "--config", "a.json", "--upstream", "mqtt://h"],
            out var cl, out var error), error);

        Assert.True(cl.Simulate);
        Assert.Equal(["192.168.10.1", "10.0.0.5:8889"], cl.Drones);
        Assert.Equal(["mqtt://h"], cl.Upstreams);
        Assert.Equal(["a.json"], cl.ConfigFiles);
        Assert.Equal("/tmp/x", cl.DataDirectory);
        Assert.Equal(["--urls", "http://127.0.0.1:0", "--LocalApi:MaxConnections=5"], cl.Rest);
    }

    [Theory]
    [InlineData("--drone")]
    [InlineData("--config")]
    [InlineData("--data-dir")]
    public void A_flag_without_its_value_is_refused_with_its_name(string flag)
    {
        Assert.False(GatewayCommandLine.TryParse([flag], out _, out var error));
        Assert.Contains(flag, error);
    }

    [Fact]
    public void A_flag_followed_by_another_flag_has_no_value()
    {
        Assert.False(GatewayCommandLine.TryParse(["--drone", "--simulate"], out _, out var error));
        Assert.Contains("--drone needs a value", error);
    }

    [Fact]
    public void Simulate_accepts_an_explicit_boolean_and_refuses_anything_else()
    {
        Assert.True(GatewayCommandLine.TryParse(["--simulate=false"], out var cl, out _));
        Assert.False(cl.Simulate);
        Assert.False(GatewayCommandLine.TryParse(["--simulate=maybe"], out _, out var error));
        Assert.Contains("maybe", error);
    }
}
