using Microsoft.Data.Sqlite;

namespace EdgeGateway.Buffer.Tests;

public sealed class SqliteSmokeTests
{
    [Fact]
    public void Sqlite_opens_in_wal_mode()
    {
        var path = Path.Combine(Path.GetTempPath(), $"eg-smoke-{Guid.NewGuid():N}.db");
        try
        {
            using var c = new SqliteConnection($"Data Source={path};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=WAL;";
            Assert.Equal("wal", cmd.ExecuteScalar() as string);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
