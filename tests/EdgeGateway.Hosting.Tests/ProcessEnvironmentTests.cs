using EdgeGateway.Hosting.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EdgeGateway.Hosting.Tests;

[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;

/// <summary>These tests change process-wide environment variables, so they run alone.</summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class ProcessEnvironmentTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NOTIFY_SOCKET_and_WATCHDOG_USEC_from_the_real_environment_drive_the_default_registration()
    {
        using var peer = NotifySocketPeer.Abstract();
        var saved = (Environment.GetEnvironmentVariable("NOTIFY_SOCKET"), Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"));
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", peer.NotifySocket);
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", "400000");
        Environment.SetEnvironmentVariable("WATCHDOG_PID", null);
        try
        {
            var logs = new TestLoggerProvider(output);
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Logging.AddProvider(logs);
            builder.Services.AddGatewayHosting(builder.Configuration.GetSection(HostingOptions.SectionName));
            using var host = builder.Build();
            await host.StartAsync().WithTimeout();
            host.Services.GetRequiredService<ReadinessGate>().Open();
            var seen = await peer.ReceiveUntil(d => d == "READY=1").WithTimeout();
            Assert.Contains(seen, d => d.StartsWith("STATUS=", StringComparison.Ordinal));
            await peer.ReceiveUntil(d => d == "WATCHDOG=1").WithTimeout();
            await host.StopAsync().WithTimeout();
            await peer.ReceiveUntil(d => d == "STOPPING=1").WithTimeout();
            logs.AssertNoUnexpectedErrors();
        }
        finally
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", saved.Item1);
            Environment.SetEnvironmentVariable("WATCHDOG_USEC", saved.Item2);
            Environment.SetEnvironmentVariable("WATCHDOG_PID", saved.Item3);
        }
    }

    [Theory]
    [InlineData("INVOCATION_ID", "0123456789abcdef0123456789abcdef")]
    [InlineData("JOURNAL_STREAM", "8:12345")]
    public void Variables_systemd_sets_for_its_units_mark_a_systemd_service(string name, string value)
    {
        var variables = new Dictionary<string, string> { [name] = value };
        Assert.True(SystemdDetection.IsSystemdService(n => variables.GetValueOrDefault(n)));
    }

    [Fact]
    public void Without_systemd_variables_or_a_systemd_parent_it_is_not_a_systemd_service()
    {
        // The test host's parent is the dotnet test runner, not systemd.
        Assert.False(SystemdDetection.IsSystemdService(_ => null));
    }

    [Theory]
    [InlineData(true, ConsoleFormatterNames.Systemd)]
    [InlineData(false, ConsoleFormatterNames.Simple)]
    public void Logging_uses_the_journald_format_under_systemd_and_a_readable_one_otherwise(bool underSystemd, string formatter)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.ConfigureGatewayLogging(new SystemdEnvironment(null, null, null, underSystemd)));
        using var provider = services.BuildServiceProvider();
        Assert.Equal(formatter, provider.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName);
        Assert.Single(provider.GetServices<ILoggerProvider>().OfType<ConsoleLoggerProvider>());
    }
}
