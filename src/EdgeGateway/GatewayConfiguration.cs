using System.Globalization;
using EdgeGateway.Buffer;
using EdgeGateway.CommandLine;
using EdgeGateway.Drones;
using EdgeGateway.Hosting;
using EdgeGateway.LocalApi;
using EdgeGateway.Options;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace EdgeGateway;

/// <summary>Where configuration comes from, in rising precedence, and the all-at-once validation at start.</summary>
public static class GatewayConfiguration
{
    /// <summary>Prefix for environment variables meant for the gateway: <c>EDGEGW_Drones__CommandPort=9000</c>.</summary>
    public const string EnvironmentPrefix = "EDGEGW_";

    /// <summary>
    /// Sources, lowest first: appsettings.json (beside the binary), appsettings.{Environment}.json, each
    /// <c>--config</c> file, environment variables (plain and <c>EDGEGW_</c>-prefixed), the command line,
    /// and last the daemon's own flags (<c>--drone</c>, <c>--data-dir</c>).
    /// </summary>
    /// <returns>Problems with the daemon's own flags (a bad <c>--upstream</c> URL); empty when all is well.</returns>
    public static IReadOnlyList<string> AddSources(ConfigurationManager configuration, GatewayCommandLine commandLine)
    {
        var sources = configuration.Sources;
        var firstEnv = 0;
        while (firstEnv < sources.Count && sources[firstEnv] is not EnvironmentVariablesConfigurationSource)
        {
            firstEnv++;
        }

        var extra = new ConfigurationBuilder();
        foreach (var file in commandLine.ConfigFiles)
        {
            extra.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }

        extra.AddEnvironmentVariables(EnvironmentPrefix);
        for (var i = extra.Sources.Count - 1; i >= 0; i--)
        {
            sources.Insert(Math.Min(firstEnv, sources.Count), extra.Sources[i]);
        }

        var keys = FlagsToKeys(commandLine, out var problems);
        configuration.AddInMemoryCollection(keys);
        return problems;
    }

    private static Dictionary<string, string?> FlagsToKeys(GatewayCommandLine commandLine, out IReadOnlyList<string> problems)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        problems = [];
        if (commandLine.Upstreams.Count > 0)
        {
            // Credentials come from the URL or EDGEGW_UPSTREAM_* variables; errors show the URL redacted.
            var upstream = UpstreamUrl.ToConfiguration(commandLine.Upstreams, out var upstreamErrors);
            foreach (var (key, value) in upstream)
            {
                keys[key] = value;
            }

            problems = [.. upstreamErrors.Select(e => "--upstream: " + e)];
        }

        if (commandLine.DataDirectory is { } dataDir)
        {
            keys["DataDirectory"] = dataDir;
            keys["Buffer:DataDirectory"] = dataDir;
        }

        if (commandLine.Drones.Count > 0)
        {
            var drones = DroneOptions.FromCommandLine(commandLine.Drones);
            for (var i = 0; i < drones.Count; i++)
            {
                keys[$"Drones:Items:{i.ToString(CultureInfo.InvariantCulture)}:Id"] = drones[i].Id;
                keys[$"Drones:Items:{i.ToString(CultureInfo.InvariantCulture)}:Address"] = drones[i].Address;
            }
        }

        if (commandLine.Simulate)
        {
            keys["Simulator:Enabled"] = "true";
        }

        return keys;
    }

    /// <summary>
    /// Binds every capability's options and collects every problem, so a bad configuration is reported
    /// whole, each line naming the key and what it may be.
    /// </summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        var problems = new List<string>();
        Check<HostingOptions>(configuration, HostingOptions.SectionName, problems);
        Check<DroneOptions>(configuration, DroneOptions.SectionName, problems);
        Check<BufferOptions>(configuration, "Buffer", problems);
        Check<LocalApiOptions>(configuration, LocalApiOptions.SectionName, problems);
        Check<SensorsOptions>(configuration, SensorsOptions.SectionName, problems);
        Check<UpstreamOptions>(configuration, "Upstream", problems);
        return problems;
    }

    private static void Check<T>(IConfiguration configuration, string section, List<string> problems)
        where T : IValidatedOptions, new()
    {
        var options = new T();
        try
        {
            configuration.GetSection(section).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key and the type it could not convert to.
            problems.Add(ex.InnerException is null ? ex.Message : $"{ex.Message} ({ex.InnerException.Message})");
            return;
        }

        problems.AddRange(options.Validate(section));
    }
}
