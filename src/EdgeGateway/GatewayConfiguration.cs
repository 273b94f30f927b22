using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using EdgeGateway.Buffer;
using EdgeGateway.CommandLine;
using EdgeGateway.Drones;
using EdgeGateway.Hosting;
using EdgeGateway.LocalApi;
using EdgeGateway.Options;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Simulator;
using EdgeGateway.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace EdgeGateway;

/// <summary>Where configuration comes from, in rising precedence, and the all-at-once validation at start.</summary>
public static class GatewayConfiguration
{
    /// <summary>Prefix for environment variables meant for the gateway: <c>EDGEGW_Drones__CommandPort=9000</c>.</summary>
    public const string EnvironmentPrefix = "EDGEGW_";

    /// <summary>
    /// Arranges the sources, lowest precedence first: appsettings.json (beside the binary),
    /// appsettings.{Environment}.json, each <c>--config</c> file (later files win), plain environment
    /// variables (<c>Drones__CommandPort</c>), <c>EDGEGW_</c>-prefixed environment variables, the command line
    /// (<c>--Section:Key=value</c>), then the daemon's own flags (<c>--drone</c>, <c>--data-dir</c>, …), and last the
    /// secrets read from <c>*File</c> keys and <c>$CREDENTIALS_DIRECTORY</c> (<see cref="SecretSources"/>).
    /// </summary>
    /// <returns>
    /// Problems with the daemon's own flags (a bad <c>--upstream</c> URL: exit 2) and with the <c>--config</c>
    /// files (missing, unreadable or not JSON: exit 78); both empty when all is well.
    /// </returns>
    public static SourceProblems AddSources(ConfigurationManager configuration, GatewayCommandLine commandLine,
        Func<string, string?>? environment = null)
    {
        var configProblems = new List<string>();
        var extra = new ConfigurationBuilder();
        foreach (var file in commandLine.ConfigFiles)
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                configProblems.Add($"--config {file}: no such file");
                continue;
            }

            extra.AddJsonFile(path, optional: false, reloadOnChange: false);
            try
            {
                // Loaded here once so a broken file is reported by name instead of surfacing as a crash.
                new ConfigurationBuilder().AddJsonFile(path, optional: false, reloadOnChange: false).Build();
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
            {
                configProblems.Add($"--config {file}: not a readable JSON configuration file: {Describe(Innermost(ex))}");
            }
        }

        if (configProblems.Count > 0)
        {
            return new SourceProblems([], configProblems);
        }

        Arrange(configuration.Sources, extra.Sources);
        var keys = FlagsToKeys(commandLine, out var problems);
        configuration.AddInMemoryCollection(keys);
        // Last: *File keys and $CREDENTIALS_DIRECTORY, read once every other source (flags included) is in place.
        var secretProblems = new List<string>();
        var secrets = SecretSources.Resolve(configuration, environment ?? Environment.GetEnvironmentVariable, secretProblems);
        if (secretProblems.Count > 0)
        {
            return new SourceProblems(problems, secretProblems);
        }

        configuration.AddInMemoryCollection(secrets);
        return new SourceProblems(problems, []);
    }

    /// <summary>
    /// Puts the <c>--config</c> files (<paramref name="configFiles"/>) right below the plain environment
    /// variables, and the <c>EDGEGW_</c> variables right above them, so that only the command line outranks them.
    /// The host's own DOTNET_/ASPNETCORE_ sources sit at the bottom and are left where they are.
    /// </summary>
    internal static void Arrange(IList<IConfigurationSource> sources, IEnumerable<IConfigurationSource> configFiles)
    {
        // The application's (unprefixed) environment source follows appsettings*.json; the command-line
        // source follows it. Without one (a host built differently) both go just below the last command line.
        var plainEnv = LastIndex(sources, s => s is EnvironmentVariablesConfigurationSource { Prefix: null or "" });
        var lastCommandLine = LastIndex(sources, s => s is CommandLineConfigurationSource);
        var gatewayEnv = new EnvironmentVariablesConfigurationSource { Prefix = EnvironmentPrefix };
        int insertAt;
        if (plainEnv >= 0)
        {
            sources.Insert(plainEnv + 1, gatewayEnv);
            insertAt = plainEnv;
        }
        else
        {
            insertAt = lastCommandLine >= 0 ? lastCommandLine : sources.Count;
            sources.Insert(insertAt, gatewayEnv);
        }

        foreach (var file in configFiles.Reverse())
        {
            sources.Insert(insertAt, file);
        }
    }

    private static int LastIndex(IList<IConfigurationSource> sources, Func<IConfigurationSource, bool> match)
    {
        for (var i = sources.Count - 1; i >= 0; i--)
        {
            if (match(sources[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>"Failed to load configuration from file '…'" with the JSON error's line and column.</summary>
    internal static string DescribeLoadFailure(Exception ex) =>
        ex.InnerException is null ? ex.Message : $"{ex.Message.TrimEnd('.')}: {Describe(Innermost(ex))}";

    /// <summary>A JSON error with the line and column counted from 1, as editors show them.</summary>
    private static string Describe(Exception ex)
    {
        if (ex is not System.Text.Json.JsonException { LineNumber: { } line, BytePositionInLine: { } column } json)
        {
            return ex.Message;
        }

        var message = json.Message;
        var position = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        message = position > 0 ? message[..position] : message;
        return string.Create(CultureInfo.InvariantCulture, $"line {line + 1}, column {column + 1}: {message}");
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
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
    /// whole, each line naming the key and what it may be. A value the binder cannot convert (<c>abc</c> for
    /// a port) is reported with the allowed values too, and does not hide the section's other problems.
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
        var simulatorEnabled = configuration["Simulator:Enabled"];
        var simulate = false;
        if (simulatorEnabled is not null && !bool.TryParse(simulatorEnabled, out simulate))
        {
            problems.Add($"Simulator:Enabled: '{simulatorEnabled}' is not a boolean; allowed: true, false");
        }

        if (simulate)
        {
            // Checked here with the rest, so a bad simulator value exits 78 like any other (not 69 at simulator start).
            Check<SimulatorOptions>(configuration, SimulatorOptions.SectionName, problems);
        }

        return problems;
    }

    private static void Check<[DynamicallyAccessedMembers(OptionsKeyTypes.Walked)] T>(IConfiguration configuration, string section, List<string> problems)
        where T : IValidatedOptions, new()
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.GetSection(section).AsEnumerable(makePathsRelative: true))
        {
            if (value is not null)
            {
                values[key] = value;
            }
        }

        // Values the binder could not convert are taken out and reported here; the rest is bound and validated
        // as usual, so every problem in the section shows up in one go.
        var unconvertible = new List<(string Key, string Value, Type Type)>();
        foreach (var (key, value) in values)
        {
            if (OptionsKeyTypes.Resolve(typeof(T), key) is { } type && !OptionsKeyTypes.Converts(type, value!))
            {
                unconvertible.Add((key, value!, type));
            }
        }

        foreach (var (key, _, _) in unconvertible)
        {
            values.Remove(key);
        }

        foreach (var (key, value, type) in unconvertible)
        {
            var fullKey = $"{section}:{key}";
            problems.Add($"{fullKey}: '{value}' is not {OptionsKeyTypes.Describe(type)}; {AllowedValues<T>(section, values, key, fullKey, type)}");
        }

        if (Bind<T>(values, problems, section) is { } options)
        {
            problems.AddRange(options.Validate(section));
        }
    }

    /// <summary>
    /// Binds through the configuration binding generator, which needs each options type named at the call (a generic
    /// Bind&lt;T&gt; would fall back to the reflection binder, which the NativeAOT release does not have).
    /// </summary>
    private static void BindSection(IConfiguration configuration, IValidatedOptions options)
    {
        switch (options)
        {
            case HostingOptions o: configuration.Bind(o); break;
            case DroneOptions o: configuration.Bind(o); break;
            case BufferOptions o: configuration.Bind(o); break;
            case LocalApiOptions o: configuration.Bind(o); break;
            case SensorsOptions o: configuration.Bind(o); break;
            case UpstreamOptions o: configuration.Bind(o); break;
            case SimulatorOptions o: configuration.Bind(o); break;
            default: throw new ArgumentException($"no binder for {options.GetType().Name}; add it here", nameof(options));
        }
    }

    private static T? Bind<[DynamicallyAccessedMembers(OptionsKeyTypes.Walked)] T>(Dictionary<string, string?> values, List<string> problems, string section)
        where T : IValidatedOptions, new()
    {
        var options = new T();
        try
        {
            BindSection(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), options);
            return options;
        }
        catch (InvalidOperationException ex)
        {
            // A shape the key walk above does not know; the binder's text still names the key.
            problems.Add($"{section}: " + (ex.InnerException is null ? ex.Message : $"{ex.Message} ({ex.InnerException.Message})"));
            return default;
        }
    }

    /// <summary>
    /// What a key may be: the options' own rule (found by validating an extreme value of the key's type, so
    /// the range is stated once, in the options class), else the type's range or names.
    /// </summary>
    private static string AllowedValues<[DynamicallyAccessedMembers(OptionsKeyTypes.Walked)] T>(string section, Dictionary<string, string?> values, string key, string fullKey, Type type)
        where T : IValidatedOptions, new()
    {
        var fallback = "allowed: " + OptionsKeyTypes.Allowed(type);
        foreach (var probe in OptionsKeyTypes.Extremes(type))
        {
            var probeValues = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase) { [key] = probe };
            var ignored = new List<string>();
            if (Bind<T>(probeValues, ignored, section) is not { } options)
            {
                continue;
            }

            string? rule;
            try
            {
                rule = options.Validate(section).FirstOrDefault(m => m.StartsWith(fullKey + ":", StringComparison.OrdinalIgnoreCase));
            }
            catch (Exception ex) when (ex is ArithmeticException or ArgumentException)
            {
                continue; // the extreme broke the validator's arithmetic: no rule to learn from it
            }


            if (rule is not null)
            {
                rule = rule[(fullKey.Length + 1)..].Trim();
                var got = rule.LastIndexOf(" (got ", StringComparison.Ordinal);
                return got > 0 ? rule[..got] : rule;
            }
        }

        return fallback;
    }
}

/// <summary>Problems found while adding the configuration sources: bad flags (exit 2) and bad <c>--config</c> files (exit 78).</summary>
public sealed record SourceProblems(IReadOnlyList<string> Usage, IReadOnlyList<string> Configuration);
