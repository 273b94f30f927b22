using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Health;

namespace EdgeGateway.Upstream.Tests;

public sealed class UpstreamUrlTests
{
    private static readonly Dictionary<string, string?> NoEnv = [];

    private static IReadOnlyDictionary<string, string?> Parse(IEnumerable<string> urls, out IReadOnlyList<string> errors, Dictionary<string, string?>? env = null)
        => UpstreamUrl.ToConfiguration(urls, out errors, name => (env ?? NoEnv).GetValueOrDefault(name));

    [Fact]
    public void Mqtt_url_with_credentials_configures_the_mqtt_sink()
    {
        var c = Parse(["mqtt://gateway:s3cret@broker.example:1884"], out var errors);
        Assert.Empty(errors);
        Assert.Equal("true", c["Upstream:Mqtt:Enabled"]);
        Assert.Equal("broker.example", c["Upstream:Mqtt:Host"]);
        Assert.Equal("1884", c["Upstream:Mqtt:Port"]);
        Assert.Equal("false", c["Upstream:Mqtt:Tls:Enabled"]);
        Assert.Equal("gateway", c["Upstream:Mqtt:UserName"]);
        Assert.Equal("s3cret", c["Upstream:Mqtt:Password"]);
    }

    [Fact]
    public void Mqtts_url_enables_tls_and_takes_credentials_from_the_environment()
    {
        var env = new Dictionary<string, string?> { [UpstreamUrl.UserNameVariable] = "envuser", [UpstreamUrl.PasswordVariable] = "envpass" };
        var c = Parse(["mqtts://broker.example"], out var errors, env);
        Assert.Empty(errors);
        Assert.Equal("true", c["Upstream:Mqtt:Tls:Enabled"]);
        Assert.Equal("0", c["Upstream:Mqtt:Port"]);
        Assert.Equal("envuser", c["Upstream:Mqtt:UserName"]);
        Assert.Equal("envpass", c["Upstream:Mqtt:Password"]);
    }

    [Fact]
    public void Mqtt_over_websocket_urls_carry_the_path_tls_and_credentials()
    {
        var c = Parse(["mqtt+wss://gw:p%40ss@broker.example:443/mqtt?tenant=a"], out var errors);
        Assert.Empty(errors);
        Assert.Equal("true", c["Upstream:Mqtt:Enabled"]);
        Assert.Equal("broker.example", c["Upstream:Mqtt:Host"]);
        Assert.Equal("443", c["Upstream:Mqtt:Port"]);
        Assert.Equal("true", c["Upstream:Mqtt:Tls:Enabled"]);
        Assert.Equal("true", c["Upstream:Mqtt:WebSocket:Enabled"]);
        Assert.Equal("/mqtt?tenant=a", c["Upstream:Mqtt:WebSocket:Path"]);
        Assert.Equal("gw", c["Upstream:Mqtt:UserName"]);
        Assert.Equal("p@ss", c["Upstream:Mqtt:Password"]);

        var plain = Parse(["mqtt+ws://broker.example"], out errors);
        Assert.Empty(errors);
        Assert.Equal("0", plain["Upstream:Mqtt:Port"]);
        Assert.Equal("false", plain["Upstream:Mqtt:Tls:Enabled"]);
        Assert.Equal("/", plain["Upstream:Mqtt:WebSocket:Path"]);
        Assert.Equal("false", Parse(["mqtts://b"], out _)["Upstream:Mqtt:WebSocket:Enabled"]);
    }

    [Fact]
    public void Mqtt_over_websocket_urls_follow_the_redaction_rules()
    {
        Assert.Equal("mqtt+wss://***@broker:443/mqtt", UpstreamUrl.Redact("mqtt+wss://gw:Sup3r#Secret@broker:443/mqtt"));
        Assert.True(UpstreamUrl.HasSecret("mqtt+wss://gw:s3cret@broker/mqtt"));
        Assert.False(UpstreamUrl.HasSecret("mqtt+ws://gw@broker/mqtt"));
        var c = Parse(["mqtt+wss://gw:Sup3r/Secret@broker/mqtt"], out var errors);
        var error = Assert.Single(errors);
        Assert.Contains("percent-encode", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret", error, StringComparison.Ordinal);
        Assert.Empty(c);
    }

    [Fact]
    public void Percent_encoded_credentials_are_decoded()
    {
        var c = Parse(["mqtt://us%40er:p%3Ass@h"], out var errors);
        Assert.Empty(errors);
        Assert.Equal("us@er", c["Upstream:Mqtt:UserName"]);
        Assert.Equal("p:ss", c["Upstream:Mqtt:Password"]);
    }

    [Theory]
    [InlineData("mqtt://admin:Sup3r#Secret@host:1883", "Sup3r#Secret")]
    [InlineData("mqtt://admin:Sup3r/Secret@host:1883", "Sup3r/Secret")]
    [InlineData("mqtt://admin:Sup3r?Secret@host:1883", "Sup3r?Secret")]
    [InlineData("mqtt://admin:Sup3r@Secret@host:1883", "Sup3r@Secret")]
    [InlineData("wss://tok/en#x@relay.example/ingest", "tok/en#x")]
    public void A_raw_reserved_character_in_a_secret_is_a_configuration_error_that_does_not_show_it(string url, string secret)
    {
        var c = Parse([url], out var errors);
        var error = Assert.Single(errors);
        Assert.Contains("percent-encode", error, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret", error, StringComparison.Ordinal);
        Assert.DoesNotContain(c.Values, v => v is not null && v.Contains("Secret", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("mqtt://admin:Sup3r%23Secret@host:1883", "Sup3r#Secret")]
    [InlineData("mqtt://admin:Sup3r%2FSecret@host:1883", "Sup3r/Secret")]
    [InlineData("mqtt://admin:Sup3r%3FSecret@host:1883", "Sup3r?Secret")]
    [InlineData("mqtt://admin:Sup3r%40Secret@host:1883", "Sup3r@Secret")]
    public void Percent_encoded_reserved_characters_in_a_password_work(string url, string password)
    {
        var c = Parse([url], out var errors);
        Assert.Empty(errors);
        Assert.Equal("host", c["Upstream:Mqtt:Host"]);
        Assert.Equal("1883", c["Upstream:Mqtt:Port"]);
        Assert.Equal("admin", c["Upstream:Mqtt:UserName"]);
        Assert.Equal(password, c["Upstream:Mqtt:Password"]);
    }

    [Theory]
    [InlineData("mqtt://admin:Sup3r#Secret@host:1883", "mqtt://***@host:1883")]
    [InlineData("mqtt://admin:a/b?c#d@e@host:1883", "mqtt://***@host:1883")]
    [InlineData("wss://relay.example/ingest", "wss://relay.example/ingest")]
    [InlineData("admin:Sup3r#Secret@host", "***@host")]
    public void Redaction_hides_everything_up_to_the_last_at_sign(string url, string shown)
        => Assert.Equal(shown, UpstreamUrl.Redact(url));

    [Fact]
    public void Urls_inside_free_text_are_redacted()
        => Assert.Equal("connect to wss://***@relay.example/x failed; retry", UpstreamUrl.RedactUrlsIn("connect to wss://t#k@n@relay.example/x failed; retry"));

    [Fact]
    public void Ws_url_token_in_user_info_is_moved_out_of_the_url()
    {
        var c = Parse(["wss://tok123@relay.example/ingest"], out var errors);
        Assert.Empty(errors);
        Assert.Equal("true", c["Upstream:Relay:Enabled"]);
        Assert.Equal("wss://relay.example/ingest", c["Upstream:Relay:Url"]);
        Assert.Equal("tok123", c["Upstream:Relay:Token"]);
    }

    [Fact]
    public void Both_sinks_from_two_urls_and_the_token_from_the_environment()
    {
        var env = new Dictionary<string, string?> { [UpstreamUrl.TokenVariable] = "envtoken" };
        var c = Parse(["mqtt://b:1883", "ws://127.0.0.1:8080/relay"], out var errors, env);
        Assert.Empty(errors);
        Assert.Equal("true", c["Upstream:Mqtt:Enabled"]);
        Assert.Equal("true", c["Upstream:Relay:Enabled"]);
        Assert.Equal("envtoken", c["Upstream:Relay:Token"]);
    }

    [Theory]
    [InlineData("http://host/x", "unsupported scheme 'http'")]
    [InlineData("not a url", "not an absolute URL")]
    [InlineData("mqtt://", "not an absolute URL")]
    [InlineData("mqtt://host/topic", "no path or query")]
    [InlineData("ws://host/relay", "no token")]
    [InlineData("ws://user:pw@host/relay", "only a token")]
    [InlineData("mqtt://host:99999", "not an absolute URL")]
    [InlineData("mqtt+ws://host/mqtt#part", "no fragment")]
    [InlineData("mqtt+tcp://host", "unsupported scheme 'mqtt+tcp'")]
    public void Bad_urls_are_reported_with_the_reason(string url, string reason)
    {
        var c = Parse([url], out var errors);
        var e = Assert.Single(errors);
        Assert.Contains(reason, e, StringComparison.Ordinal);
        Assert.DoesNotContain(c.Keys, k => k.EndsWith(":Enabled", StringComparison.Ordinal) && k.Contains(url.StartsWith("ws", StringComparison.Ordinal) ? "Relay" : "Mqtt", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_urls_of_one_kind_are_an_error()
    {
        Parse(["mqtt://a", "mqtts://b"], out var errors);
        Assert.Contains("only one mqtt", Assert.Single(errors), StringComparison.Ordinal);
        Parse(["mqtt+wss://a/mqtt", "mqtt://b"], out errors);
        Assert.Contains("only one mqtt", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_and_redaction_never_show_secrets()
    {
        Parse(["ftp://user:topsecret@host/"], out var errors);
        Assert.DoesNotContain("topsecret", Assert.Single(errors), StringComparison.Ordinal);
        Assert.Equal("wss://***@relay.example/x", UpstreamUrl.Redact("wss://tok@relay.example/x"));
        Assert.Equal("mqtt://host:1883", UpstreamUrl.Redact("mqtt://host:1883"));
    }

    [Fact]
    public async Task Parsed_urls_bind_to_valid_options_and_register_both_sinks_with_health()
    {
        var pairs = Parse(["mqtt://u:p@127.0.0.1:1", "ws://tok@127.0.0.1:2/relay"], out var errors);
        Assert.Empty(errors);
        var config = new ConfigurationBuilder().AddInMemoryCollection(pairs).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddUpstream(config.GetSection("Upstream"));
        await using var sp = services.BuildServiceProvider();
        var sinks = sp.GetServices<IUpstreamSink>().Select(s => s.Name).Order().ToList();
        Assert.Equal(["mqtt", "relay"], sinks);
        var health = sp.GetServices<IHealthReporter>().SelectMany(h => h.Report()).ToList();
        Assert.Equal(2, health.Count);
        Assert.All(health, h => Assert.Equal(HealthState.Degraded, h.State));
    }

    [Fact]
    public void Bad_options_fail_with_every_problem_naming_its_key()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Upstream:GatewayId"] = "bad id!",
            ["Upstream:Mqtt:Enabled"] = "true",
            ["Upstream:Mqtt:TopicTemplate"] = "edge/#",
            ["Upstream:Mqtt:BatchRecords"] = "0",
            ["Upstream:Mqtt:WebSocket:Enabled"] = "true",
            ["Upstream:Mqtt:WebSocket:Path"] = "mqtt",
            ["Upstream:Relay:Enabled"] = "true",
            ["Upstream:Relay:Url"] = "http://x/",
        }).Build();
        var e = Assert.Throws<OptionsValidationFailedException>(() => new ServiceCollection().AddUpstream(config.GetSection("Upstream")));
        Assert.Contains(e.Problems, p => p.StartsWith("Upstream:GatewayId:", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("Upstream:Mqtt:TopicTemplate:", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("Upstream:Mqtt:BatchRecords:", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("Upstream:Mqtt:WebSocket:Path:", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("Upstream:Relay:Url:", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("Upstream:Relay:Token:", StringComparison.Ordinal));
    }

    [Fact]
    public void Nothing_enabled_registers_no_sink()
    {
        var config = new ConfigurationBuilder().Build();
        var services = new ServiceCollection().AddLogging();
        services.AddUpstream(config.GetSection("Upstream"));
        using var sp = services.BuildServiceProvider();
        Assert.Empty(sp.GetServices<IUpstreamSink>());
    }
}
