namespace EdgeGateway.Tests;

/// <summary>The data directory and the database files are owner-only whatever the umask, on create and on restart.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FileModeTests : IDisposable
{
    private const UnixFileMode Owner600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Owner700 = Owner600 | UnixFileMode.UserExecute;
    private const UnixFileMode All666 = Owner600 | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    private readonly string _root = Directory.CreateTempSubdirectory("eg-modes-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Under_umask_000_the_data_directory_is_0700_and_every_database_file_0600_on_create_and_on_restart()
    {
        var dataDir = Path.Combine(_root, "data");
        var files = new[] { "buffer.db", "buffer.db-wal", "buffer.db-shm", "dead-letters.db", "dead-letters.db-wal", "dead-letters.db-shm" }
            .Select(f => Path.Combine(dataDir, f)).ToArray();
        var args = GatewayProcess.IsolatedSimulateArgs(dataDir, out _, out _);
        // An MQTT sink (nothing listens there) makes the gateway open its dead-letter table in the data directory.
        args.AddRange(["--upstream", $"mqtt://127.0.0.1:{FreePort.Tcp()}"]);

        await using (var first = StartUnderUmask000(args))
        {
            await TaskTimeouts.Eventually(() => files.All(File.Exists), () => "database files exist\n" + first.Output, TimeSpan.FromSeconds(45));
            AssertModes(dataDir, files);
            first.Signal(GatewayProcess.SigTerm);
            await first.WaitForExitAsync();
        }

        // Loosened by hand (or made by an older version): tightened at the next start.
        File.SetUnixFileMode(dataDir, Owner700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        foreach (var f in files.Where(File.Exists))
        {
            File.SetUnixFileMode(f, All666);
        }

        await using var second = StartUnderUmask000(args);
        await TaskTimeouts.Eventually(() => files.All(File.Exists) && File.GetUnixFileMode(files[0]) == Owner600,
            () => "database files reopened\n" + second.Output, TimeSpan.FromSeconds(45));
        AssertModes(dataDir, files);
    }

    private static void AssertModes(string dataDir, string[] files)
    {
        Assert.Equal(Owner700, File.GetUnixFileMode(dataDir));
        foreach (var f in files)
        {
            Assert.True(File.GetUnixFileMode(f) == Owner600, $"{Path.GetFileName(f)}: {File.GetUnixFileMode(f)}");
        }
    }

    private static GatewayProcess StartUnderUmask000(IEnumerable<string> args)
        => GatewayProcess.Start(["-c", "umask 000; exec dotnet \"$0\" \"$@\"", GatewayProcess.DaemonPath, .. args], executable: "/bin/bash");
}
