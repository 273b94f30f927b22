namespace EdgeGateway.Architecture.Tests;

/// <summary>
/// The walls between projects (docs/architecture.md, "Walls"). Each shipped project may reference only the
/// projects listed for it here; a new project must be added here on purpose, with its wall.
/// </summary>
public sealed class WallTests
{
    private static readonly Dictionary<string, string[]> AllowedReferences = new(StringComparer.Ordinal)
    {
        // The vocabulary every other project shares: records, clocks, health. Knows nothing else.
        ["EdgeGateway.Core"] = [],
        // Device links know only Core: a drone or a sensor never learns where its records go.
        ["EdgeGateway.Drones"] = ["EdgeGateway.Core"],
        ["EdgeGateway.Sensors"] = ["EdgeGateway.Core"],
        // The simulator is a peer on the wire, not a part of the gateway.
        ["EdgeGateway.Simulator"] = ["EdgeGateway.Core"],
        // The MQTT client is a library: it knows nothing of the gateway, not even Core.
        ["EdgeGateway.Mqtt"] = [],
        // The buffer stores and replays; it never reaches upstream or the local API.
        ["EdgeGateway.Buffer"] = ["EdgeGateway.Core"],
        ["EdgeGateway.Hosting"] = ["EdgeGateway.Core"],
        // The local API commands drones, so it sees the drone link's contract.
        ["EdgeGateway.LocalApi"] = ["EdgeGateway.Core", "EdgeGateway.Drones"],
        // Upstream reads the buffer's cursors and publishes through the MQTT client.
        ["EdgeGateway.Upstream"] = ["EdgeGateway.Core", "EdgeGateway.Buffer", "EdgeGateway.Mqtt"],
        // Only the executable knows everything and wires it together.
        ["EdgeGateway"] =
        [
            "EdgeGateway.Core", "EdgeGateway.Drones", "EdgeGateway.Sensors", "EdgeGateway.Simulator",
            "EdgeGateway.Buffer", "EdgeGateway.Hosting", "EdgeGateway.LocalApi", "EdgeGateway.Upstream",
        ],
    };

    /// <summary>
    /// The design card's packages the project measured and kept out of what it ships (README, dependency table):
    /// only the comparison bench may reference them.
    /// </summary>
    private static readonly string[] BenchOnlyPackages = ["MQTTnet", "LiteDB", "System.IO.Ports"];

    [Fact]
    public void Every_shipped_project_has_a_declared_wall()
    {
        var undeclared = RepositoryLayout.ShippedProjects.Keys.Where(name => !AllowedReferences.ContainsKey(name)).ToList();
        Assert.True(undeclared.Count == 0,
            $"src/ has projects without a wall in {nameof(WallTests)}: {string.Join(", ", undeclared)}. Add each with the projects it may reference.");
        var vanished = AllowedReferences.Keys.Where(name => !RepositoryLayout.ShippedProjects.ContainsKey(name)).ToList();
        Assert.True(vanished.Count == 0, $"walls declared for projects that no longer exist: {string.Join(", ", vanished)}");
    }

    [Fact]
    public void No_shipped_project_references_past_its_wall()
    {
        var crossings = new List<string>();
        foreach (var (name, project) in RepositoryLayout.ShippedProjects)
        {
            if (!AllowedReferences.TryGetValue(name, out var allowed))
            {
                continue; // reported by the test above
            }
            crossings.AddRange(project.ProjectReferences.Where(r => !allowed.Contains(r, StringComparer.Ordinal)).Select(r => $"{name} -> {r}"));
        }
        Assert.True(crossings.Count == 0, "project references that cross a wall: " + string.Join("; ", crossings));
    }

    [Fact]
    public void No_shipped_project_references_a_bench_only_package()
    {
        var offenders = RepositoryLayout.ShippedProjects.Values
            .SelectMany(p => p.PackageReferences.Where(pkg => BenchOnlyPackages.Contains(pkg, StringComparer.OrdinalIgnoreCase)).Select(pkg => $"{p.Name} -> {pkg}"))
            .ToList();
        Assert.True(offenders.Count == 0, "bench-only packages referenced by shipped code: " + string.Join("; ", offenders));
    }

    [Fact]
    public void The_wall_check_sees_a_crossing_when_one_is_written()
    {
        // The check above must be able to fail: a project file with a forbidden reference, parsed the same way.
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "EdgeGateway.Drones.csproj");
        File.WriteAllText(path, """
            <Project Sdk="Microsoft.NET.Sdk">
              <ItemGroup>
                <ProjectReference Include="..\EdgeGateway.Core\EdgeGateway.Core.csproj" />
                <ProjectReference Include="..\EdgeGateway.Buffer\EdgeGateway.Buffer.csproj" />
              </ItemGroup>
            </Project>
            """);
        var project = ProjectFile.Load(path);
        Assert.Equal(["EdgeGateway.Buffer", "EdgeGateway.Core"], project.ProjectReferences.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("EdgeGateway.Buffer", AllowedReferences["EdgeGateway.Drones"]);
    }
}
