using System.Xml.Linq;

namespace EdgeGateway.Architecture.Tests;

/// <summary>The repository as files: where the solution is, and what each shipped project references.</summary>
internal static class RepositoryLayout
{
    /// <summary>The folder holding EdgeGateway.sln, found by walking up from the test's output folder.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Every project under src/, by project name.</summary>
    public static IReadOnlyDictionary<string, ProjectFile> ShippedProjects { get; } = LoadShippedProjects();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeGateway.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"EdgeGateway.sln not found above {AppContext.BaseDirectory}");
    }

    private static Dictionary<string, ProjectFile> LoadShippedProjects()
    {
        var projects = new Dictionary<string, ProjectFile>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            var project = ProjectFile.Load(path);
            projects.Add(project.Name, project);
        }
        return projects;
    }
}

/// <summary>One .csproj: the projects and packages it references directly.</summary>
internal sealed record ProjectFile(string Name, IReadOnlySet<string> ProjectReferences, IReadOnlySet<string> PackageReferences)
{
    public static ProjectFile Load(string path)
    {
        var xml = XDocument.Load(path);
        var projects = xml.Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(((string?)e.Attribute("Include") ?? "").Replace('\\', '/')))
            .ToHashSet(StringComparer.Ordinal);
        var packages = xml.Descendants("PackageReference")
            .Select(e => (string?)e.Attribute("Include") ?? "")
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new ProjectFile(Path.GetFileNameWithoutExtension(path), projects, packages);
    }
}
