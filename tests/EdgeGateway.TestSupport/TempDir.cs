namespace EdgeGateway.TestSupport;

/// <summary>A fresh directory under the system temp directory, deleted (best effort) when disposed.</summary>
/// <param name="prefix">Start of the directory's name, so a leftover says which tests made it.</param>
/// <param name="beforeDelete">Releases what still holds files in it (e.g. <c>SqliteConnection.ClearAllPools</c>).</param>
public sealed class TempDir(string prefix = "eg-test-", Action? beforeDelete = null) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        beforeDelete?.Invoke();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover in /tmp must not fail the test that made it.
        }
    }
}
