using System.Reflection;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Architecture.Tests;

/// <summary>
/// Log event ids are an operator's search key (journalctl, docs): each assembly owns a range, stated in its
/// docs and its log partials, and no id means two things.
/// </summary>
public sealed class EventIdRangeTests
{
    /// <summary>Each shipped project's event-id range (inclusive), as docs/architecture.md lists them.</summary>
    private static readonly (string Assembly, int First, int Last)[] Ranges =
    [
        ("EdgeGateway", 100, 999),
        ("EdgeGateway.Drones", 1000, 1999),
        ("EdgeGateway.Simulator", 2000, 2999),
        ("EdgeGateway.Hosting", 3000, 3999),
        ("EdgeGateway.LocalApi", 4000, 4999),
        ("EdgeGateway.Buffer", 5000, 5999),
        ("EdgeGateway.Mqtt", 6000, 6499),
        ("EdgeGateway.Upstream", 6500, 6999),
        ("EdgeGateway.Sensors", 7000, 7999),
    ];

    [Fact]
    public void The_declared_ranges_do_not_overlap()
    {
        var ordered = Ranges.OrderBy(r => r.First).ToArray();
        for (var i = 0; i < ordered.Length; i++)
        {
            Assert.True(ordered[i].First <= ordered[i].Last, $"{ordered[i].Assembly}: empty range");
            if (i > 0)
            {
                Assert.True(ordered[i - 1].Last < ordered[i].First,
                    $"{ordered[i - 1].Assembly} ({ordered[i - 1].First}-{ordered[i - 1].Last}) overlaps {ordered[i].Assembly} ({ordered[i].First}-{ordered[i].Last})");
            }
        }
    }

    [Fact]
    public void Every_shipped_assembly_has_a_range()
    {
        var missing = RepositoryLayout.ShippedProjects.Keys
            .Where(name => name != "EdgeGateway.Core" && Ranges.All(r => r.Assembly != name))
            .ToList();
        Assert.True(missing.Count == 0, "shipped assemblies without an event-id range: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_log_message_id_is_in_its_assemblys_range_and_used_once()
    {
        var problems = new List<string>();
        var seen = new Dictionary<int, string>();
        var total = 0;
        foreach (var (assemblyName, first, last) in Ranges)
        {
            // The executable's project is EdgeGateway; its assembly is named edge-gateway (the binary's name).
            var assembly = Assembly.Load(assemblyName == "EdgeGateway" ? "edge-gateway" : assemblyName);
            foreach (var (method, id) in LogMessages(assembly))
            {
                total++;
                var where = $"{method.DeclaringType?.FullName}.{method.Name}";
                if (id < first || id > last)
                {
                    problems.Add($"{where}: event id {id} outside {assemblyName}'s range {first}-{last}");
                }
                if (!seen.TryAdd(id, where))
                {
                    problems.Add($"{where}: event id {id} already used by {seen[id]}");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        // The reflection must actually find the source-generated log methods (over a hundred today).
        Assert.True(total > 100, $"only {total} log messages found: the scan is broken");
    }

    [Fact]
    public void The_scan_finds_an_id_outside_its_range()
    {
        var found = LogMessages(typeof(OutOfRangeSample).Assembly)
            .Where(m => m.Method.DeclaringType == typeof(OutOfRangeSample))
            .Select(m => m.EventId)
            .ToArray();
        Assert.Equal([42], found);
        Assert.DoesNotContain(Ranges, r => 42 >= r.First && 42 <= r.Last);
    }

    private static IEnumerable<(MethodInfo Method, int EventId)> LogMessages(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(all))
            {
                var attribute = method.GetCustomAttribute<LoggerMessageAttribute>();
                if (attribute is not null)
                {
                    yield return (method, attribute.EventId);
                }
            }
        }
    }
}

/// <summary>A log message with an id no assembly owns: proves the scan reads ids.</summary>
internal static partial class OutOfRangeSample
{
    [LoggerMessage(42, LogLevel.Debug, "sample")]
    public static partial void Sample(ILogger logger);
}
