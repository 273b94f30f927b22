using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;
using EdgeGateway.Buffer;
using EdgeGateway.Drones;
using EdgeGateway.Hosting;
using EdgeGateway.LocalApi;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Simulator;
using EdgeGateway.Upstream;

namespace EdgeGateway.Tests;

/// <summary>
/// Fast guards for what only the NativeAOT build would otherwise show (the full comparison is
/// tests/EdgeGateway.Release.Tests, run by scripts/compare-builds.sh).
/// </summary>
public sealed class AotReadinessTests
{
    private static readonly Type[] SectionRoots =
    [
        typeof(HostingOptions), typeof(DroneOptions), typeof(BufferOptions), typeof(LocalApiOptions), typeof(SensorsOptions),
        typeof(UpstreamOptions), typeof(SimulatorOptions),
    ];

    [Fact]
    public void Every_options_class_reachable_from_a_configuration_section_is_kept_for_the_key_walk()
    {
        // OptionsKeyTypes.Resolve reflects over nested options classes to name a bad value's key and range; NativeAOT
        // keeps their properties only when they are in its DynamicDependency list.
        var resolve = typeof(GatewayHost).Assembly.GetType("EdgeGateway.OptionsKeyTypes", throwOnError: true)!
            .GetMethod("Resolve", BindingFlags.Public | BindingFlags.Static)!;
        var kept = resolve.GetCustomAttributes<DynamicDependencyAttribute>().Select(d => d.Type).OfType<Type>().ToHashSet();

        var reachable = new HashSet<Type>();
        foreach (var root in SectionRoots)
        {
            Walk(root, reachable);
        }

        var missing = reachable.Except(SectionRoots).Where(t => !kept.Contains(t)).Select(t => t.FullName).Order().ToList();
        Assert.True(missing.Count == 0, "add to OptionsKeyTypes.Resolve's DynamicDependency list: " + string.Join(", ", missing));
        Assert.NotEmpty(reachable.Except(SectionRoots));
    }

    [Fact]
    public void The_daemon_runs_with_reflection_based_json_switched_off_so_the_jit_build_fails_where_aot_would()
    {
        var config = Path.Combine(AppContext.BaseDirectory, "edge-gateway.runtimeconfig.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(config));
        var options = doc.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(options.TryGetProperty("System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault", out var value), config);
        Assert.Equal(JsonValueKind.False, value.ValueKind);
    }

    private static void Walk(Type type, HashSet<Type> seen)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Walk(argument, seen);
            }

            return;
        }

        if (type.IsArray)
        {
            Walk(type.GetElementType()!, seen);
            return;
        }

        if (!type.IsClass || type == typeof(string) || type.Namespace?.StartsWith("EdgeGateway", StringComparison.Ordinal) != true || !seen.Add(type))
        {
            return;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite || !p.PropertyType.IsValueType))
        {
            Walk(property.PropertyType, seen);
        }
    }
}
