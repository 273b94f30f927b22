namespace EdgeGateway.Buffer;

/// <summary>
/// Owner-only modes for the gateway's data, whatever the process umask: the data directory 0700, database files
/// (and their <c>-wal</c>, <c>-shm</c>, <c>-journal</c>) 0600. Telemetry, positions and command audits are nobody
/// else's business on a shared companion computer. Set explicitly on create and again on every start, so files made
/// by an older version or under a loose umask are tightened.
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupAndOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly string[] s_sqliteCompanions = ["-wal", "-shm", "-journal"];

    /// <summary>
    /// Creates <paramref name="directory"/> (and missing parents) as 0700, or takes group and other access away from
    /// an existing one. A shared sticky directory (such as <c>/tmp</c>) given as the data directory is left alone.
    /// </summary>
    public static void EnsureDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, DirectoryMode);
            // mkdir applies the umask, which may take the owner's bits too.
            File.SetUnixFileMode(directory, DirectoryMode);
            return;
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & GroupAndOthers) != 0 && (mode & UnixFileMode.StickyBit) == 0)
        {
            File.SetUnixFileMode(directory, (mode & ~GroupAndOthers) | DirectoryMode);
        }
    }

    /// <summary>
    /// Before SQLite opens <paramref name="databasePath"/>: creates it empty as 0600 when absent (SQLite gives the
    /// <c>-wal</c> and <c>-shm</c> it creates the database file's mode) and sets 0600 on it and on any companion file
    /// that exists. Call again after the first statement to cover companions SQLite just created.
    /// </summary>
    public static void EnsureDatabaseFiles(string databasePath)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (!File.Exists(databasePath))
        {
            try
            {
                using var created = new FileStream(databasePath, new FileStreamOptions
                {
                    Mode = System.IO.FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = FileMode,
                });
            }
            catch (IOException) when (File.Exists(databasePath))
            {
                // Created meanwhile; its mode is set below.
            }
        }

        SetIfDifferent(databasePath);
        foreach (var suffix in s_sqliteCompanions)
        {
            if (File.Exists(databasePath + suffix))
            {
                SetIfDifferent(databasePath + suffix);
            }
        }
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void SetIfDifferent(string path)
    {
        try
        {
            if (File.GetUnixFileMode(path) != FileMode)
            {
                File.SetUnixFileMode(path, FileMode);
            }
        }
        catch (FileNotFoundException)
        {
            // A companion removed by SQLite at the last close in between: nothing to protect.
        }
    }
}
