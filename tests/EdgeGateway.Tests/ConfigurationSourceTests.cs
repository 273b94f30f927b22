using System.Net;
using System.Net.Sockets;
using EdgeGateway.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace EdgeGateway.Tests;

/// <summary>
/// Configuration precedence and configuration errors on the real daemon: appsettings.json &lt; --config file
/// &lt; plain environment variables &lt; EDGEGW_ variables &lt; the command line; a bad value from any of them exits 78.
/// </summary>
public sealed class ConfigurationSourceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eg-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Each source in the case names the local API port it sets (the shipped appsettings.json says 3002);
    // the daemon must listen on the winner's port and on no other.
    [Theory]
    [InlineData("config", "config")]
    [InlineData("config,env", "env")]
    [InlineData("config,env,edgegw", "edgegw")]
    [InlineData("config,env,edgegw,cli", "cli")]
    [InlineData("config,cli", "cli")]
    public async Task The_listen_address_comes_from_the_highest_source_that_sets_it(string sources, string winner)
    {
        var ports = new Dictionary<string, int>();
        foreach (var source in sources.Split(','))
        {
            ports[source] = FreePort.Tcp();
        }

        var args = WithoutUrls(GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _));
        var environment = new Dictionary<string, string>();
        if (ports.TryGetValue("config", out var configPort))
        {
            var file = Path.Combine(_dir, "extra.json");
            await File.WriteAllTextAsync(file, $$"""{ "Urls": "http://127.0.0.1:{{configPort}}" }""");
            args.AddRange(["--config", file]);
        }

        if (ports.TryGetValue("env", out var envPort))
        {
            environment["Urls"] = $"http://127.0.0.1:{envPort}";
        }

        if (ports.TryGetValue("edgegw", out var edgegwPort))
        {
            environment["EDGEGW_Urls"] = $"http://127.0.0.1:{edgegwPort}";
        }

        if (ports.TryGetValue("cli", out var cliPort))
        {
            args.Add($"--Urls=http://127.0.0.1:{cliPort}");
        }

        await using var gateway = GatewayProcess.Start(args, environment);

        await TaskTimeouts.Eventually(() => Listening(ports[winner]) || gateway.HasExited,
            () => $"the daemon listens on the {winner} port {ports[winner]}\n{gateway.Output}", TimeSpan.FromSeconds(45));
        Assert.False(gateway.HasExited, gateway.Output);
        foreach (var (source, port) in ports.Where(p => p.Key != winner))
        {
            Assert.False(Listening(port), $"the {source} port {port} must lose to {winner}\n{gateway.Output}");
        }
    }

    [Theory]
    [InlineData("config", "Drones:LocalAddress", "nonsense", "must be an IP address")]
    [InlineData("env", "Drones:LocalAddress", "nonsense", "must be an IP address")]
    [InlineData("edgegw", "Drones:LocalAddress", "nonsense", "must be an IP address")]
    [InlineData("edgegw", "Drones:CommandPort", "99999", "0-65535")]
    [InlineData("cli", "Drones:CommandPort", "99999", "0-65535")]
    public async Task A_bad_value_given_only_through_one_source_exits_78_naming_the_key(string source, string key, string value, string allowed)
    {
        // No --simulate: nothing else sets Drones:LocalAddress, so only the source under test can make it bad.
        List<string> args = ["--data-dir", Path.Combine(_dir, "data"), "--urls", $"http://127.0.0.1:{FreePort.Tcp()}"];
        if (key != "Drones:CommandPort")
        {
            args.Add("--Drones:CommandPort=0");
        }

        if (key != "Drones:LocalAddress")
        {
            args.Add("--Drones:LocalAddress=127.0.0.1");
        }

        args.Add($"--Drones:StatePort={FreePort.Udp()}");
        var environment = new Dictionary<string, string>();
        switch (source)
        {
            case "config":
                var file = Path.Combine(_dir, "bad.json");
                var (section, name) = (key.Split(':')[0], key.Split(':')[1]);
                await File.WriteAllTextAsync(file, $$"""{ "{{section}}": { "{{name}}": "{{value}}" } }""");
                args.AddRange(["--config", file]);
                break;
            case "env":
                environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
                break;
            case "edgegw":
                environment["EDGEGW_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
                break;
            default:
                args.Add($"--{key}={value}");
                break;
        }

        await using var gateway = GatewayProcess.Start(args, environment);

        var exit = await gateway.WaitForExitAsync();
        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains("invalid configuration", gateway.Output, StringComparison.Ordinal);
        Assert.Contains(key, gateway.Output, StringComparison.Ordinal);
        Assert.Contains(allowed, gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_value_in_the_config_file_is_fixed_by_the_command_line()
    {
        var file = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(file, """{ "Drones": { "LocalAddress": "nonsense" } }""");
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out var port, out _);
        args.AddRange(["--config", file, "--Drones:LocalAddress=127.0.0.1"]);

        await using var gateway = GatewayProcess.Start(args, new Dictionary<string, string> { ["EDGEGW_Drones__LocalAddress"] = "nonsense" });

        await TaskTimeouts.Eventually(() => Listening(port) || gateway.HasExited, () => "the daemon starts\n" + gateway.Output,
            TimeSpan.FromSeconds(45));
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Theory]
    [InlineData("--Simulator:Format=9.9", "Simulator:Format", "1.3, 2.0 or 3.0")]
    [InlineData("--Simulator:TimeScale=abc", "Simulator:TimeScale", "is not a valid number")]
    [InlineData("--Simulator:Drones=many", "Simulator:Drones", "1..100")]
    public async Task A_bad_simulator_value_exits_78_naming_the_key(string arg, string key, string allowed)
    {
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
        args.Add(arg);

        await using var gateway = GatewayProcess.Start(args);

        var exit = await gateway.WaitForExitAsync();
        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains("invalid configuration", gateway.Output, StringComparison.Ordinal);
        Assert.Contains(key, gateway.Output, StringComparison.Ordinal);
        Assert.Contains(allowed, gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_boolean_simulator_switch_from_the_environment_exits_78_not_a_crash()
    {
        // Validated before any port is bound, so no isolated ports are needed.
        await using var gateway = GatewayProcess.Start(["--data-dir", Path.Combine(_dir, "data")],
            new Dictionary<string, string> { ["EDGEGW_Simulator__Enabled"] = "yes" });

        var exit = await gateway.WaitForExitAsync();
        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains("Simulator:Enabled: 'yes' is not a boolean; allowed: true, false", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_file_that_is_not_json_exits_78_naming_the_file_and_the_line()
    {
        var file = Path.Combine(_dir, "broken.json");
        await File.WriteAllTextAsync(file, "{\n  \"Drones\": {\n    \"CommandPort\": 9000,,\n  }\n}\n");
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
        args.AddRange(["--config", file]);

        await using var gateway = GatewayProcess.Start(args);

        var exit = await gateway.WaitForExitAsync();
        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains($"--config {file}", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("line 3, column", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_appsettings_file_beside_the_binary_that_is_not_json_exits_78_naming_it()
    {
        // appsettings.{Environment}.json with an environment name of its own, so no other daemon reads it.
        var environmentName = "Broken" + Guid.NewGuid().ToString("N");
        var file = Path.Combine(Path.GetDirectoryName(GatewayProcess.DaemonPath)!, $"appsettings.{environmentName}.json");
        await File.WriteAllTextAsync(file, "{\n  \"Drones\": { \"CommandPort\": }\n}\n");
        try
        {
            var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
            await using var gateway = GatewayProcess.Start(args, new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = environmentName });

            var exit = await gateway.WaitForExitAsync();
            Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
            Assert.Contains($"appsettings.{environmentName}.json", gateway.Output, StringComparison.Ordinal);
            Assert.Contains("line 2, column", gateway.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_missing_config_file_exits_78_naming_the_file()
    {
        var file = Path.Combine(_dir, "absent.json");
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
        args.AddRange(["--config", file]);

        await using var gateway = GatewayProcess.Start(args);

        var exit = await gateway.WaitForExitAsync();
        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains($"--config {file}: no such file", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Sources_rank_appsettings_then_config_files_then_environment_then_edgegw_environment_then_the_command_line()
    {
        // A section name no other test or machine uses, so the process-wide variables set here touch nothing else.
        var section = "Probe" + Guid.NewGuid().ToString("N");
        var content = Path.Combine(_dir, "content");
        Directory.CreateDirectory(content);
        File.WriteAllText(Path.Combine(content, "appsettings.json"),
            $$"""{ "{{section}}": { "A": "app", "B": "app", "C": "app", "D": "app", "E": "app", "F": "app" } }""");
        File.WriteAllText(Path.Combine(content, "appsettings.Production.json"), $$"""{ "{{section}}": { "F": "app-env", "B": "app-env" } }""");
        var first = Path.Combine(_dir, "first.json");
        var second = Path.Combine(_dir, "second.json");
        File.WriteAllText(first, $$"""{ "{{section}}": { "B": "file1", "C": "file1", "D": "file1", "E": "file1", "G": "file1" } }""");
        File.WriteAllText(second, $$"""{ "{{section}}": { "G": "file2" } }""");
        Environment.SetEnvironmentVariable($"{section}__C", "env");
        Environment.SetEnvironmentVariable($"{section}__D", "env");
        Environment.SetEnvironmentVariable($"{section}__E", "env");
        Environment.SetEnvironmentVariable($"EDGEGW_{section}__D", "edgegw");
        Environment.SetEnvironmentVariable($"EDGEGW_{section}__E", "edgegw");
        try
        {
            string[] args = ["--config", first, "--config", second, $"--{section}:E=cli"];
            Assert.True(GatewayCommandLine.TryParse(args, out var commandLine, out var error), error);
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions
            {
                Args = [.. commandLine.Rest], ContentRootPath = content, EnvironmentName = "Production",
            });

            var problems = GatewayConfiguration.AddSources(builder.Configuration, commandLine);

            Assert.Empty(problems.Usage);
            Assert.Empty(problems.Configuration);
            var probe = builder.Configuration.GetSection(section);
            Assert.Equal("app", probe["A"]);
            Assert.Equal("app-env", probe["F"]);
            Assert.Equal("file1", probe["B"]);
            Assert.Equal("file2", probe["G"]);
            Assert.Equal("env", probe["C"]);
            Assert.Equal("edgegw", probe["D"]);
            Assert.Equal("cli", probe["E"]);
        }
        finally
        {
            foreach (var key in new[] { "C", "D", "E" })
            {
                Environment.SetEnvironmentVariable($"{section}__{key}", null);
                Environment.SetEnvironmentVariable($"EDGEGW_{section}__{key}", null);
            }
        }
    }

    [Fact]
    public void Every_unconvertible_value_and_every_other_problem_in_a_section_is_reported_together()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Drones:StatePort"] = "abc",
            ["Drones:CommandTimeout"] = "soon",
            ["Drones:LocalAddress"] = "nonsense",
            ["Buffer:IntakeFullPolicy"] = "Sometimes",
            ["Buffer:MaxBytes"] = "12",
        }).Build();

        var problems = GatewayConfiguration.Validate(configuration);

        Assert.Contains(problems, p => p.StartsWith("Drones:StatePort: 'abc' is not a valid integer", StringComparison.Ordinal) && p.Contains("0-65535", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Drones:CommandTimeout: 'soon' is not a valid duration", StringComparison.Ordinal)
            && p.Contains("00:00:00.0500000", StringComparison.Ordinal) && p.Contains("00:01:00", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Drones:LocalAddress:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Buffer:IntakeFullPolicy: 'Sometimes'", StringComparison.Ordinal)
            && p.Contains("DropOldest", StringComparison.Ordinal) && p.Contains("DropNewest", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Buffer:MaxBytes:", StringComparison.Ordinal) && p.Contains("1048576", StringComparison.Ordinal));
        Assert.Equal(5, problems.Count);
    }

    private static List<string> WithoutUrls(List<string> args)
    {
        var at = args.IndexOf("--urls");
        args.RemoveRange(at, 2);
        return args;
    }

    private static bool Listening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
