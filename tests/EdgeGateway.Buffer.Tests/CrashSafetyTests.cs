using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

public sealed class CrashSafetyTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Sigkill_while_writing_at_a_high_rate_loses_nothing_reported_committed_and_duplicates_nothing()
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "EdgeGateway.Buffer.Bench.dll");
        Assert.True(File.Exists(exe), $"missing {exe}: build tests/EdgeGateway.Buffer.Tests (it references bench/EdgeGateway.Buffer.Bench)");
        long start = -1;
        long reported = -1;
        long lines = 0;

        // Two kills in a row: the second run must continue above whatever the first one left.
        for (var run = 0; run < 2; run++)
        {
            var psi = new ProcessStartInfo("dotnet", ["exec", exe, "crash-writer", _dir.Path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var child = Process.Start(psi)!;
            long runStart = -1;
            long runReported = -1;
            var monotonic = true;

            // A plain thread reads the child's stdout: the watermark lines are what "reported committed" means.
            var readerThread = new Thread(() =>
            {
                while (child.StandardOutput.ReadLine() is { } line)
                {
                    var parts = line.Split(' ');
                    var value = long.Parse(parts[1], CultureInfo.InvariantCulture);
                    if (parts[0] == "START")
                    {
                        Interlocked.Exchange(ref runStart, value);
                    }
                    else
                    {
                        monotonic &= value > Interlocked.Read(ref runReported);
                        Interlocked.Exchange(ref runReported, value);
                        Interlocked.Increment(ref lines);
                    }
                }
            }) { IsBackground = true };
            readerThread.Start();
            try
            {
                await TaskTimeouts.Eventually(() => Interlocked.Read(ref runStart) >= 0 && Interlocked.Read(ref runReported) - Interlocked.Read(ref runStart) >= 20_000,
                    "the crash-writer commits 20000 records", TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(5));
            }
            finally
            {
                child.Kill(entireProcessTree: false); // SIGKILL on Linux: no flush, no dispose, no shutdown hooks
            }

            await child.WaitForExitAsync().WithTimeout();
            Assert.True(readerThread.Join(TimeSpan.FromSeconds(15)), "stdout reader ends at EOF");
            Assert.True(monotonic, "watermark only moves up");
            output.WriteLine($"run {run}: start {runStart}, reported committed {runReported} ({runReported - runStart} records)");
            Assert.True(runReported - runStart >= 20_000, "the child wrote at a high rate before it was killed");
            if (run == 1)
            {
                Assert.True(runStart >= reported, "sequences continue upward after kill -9");
            }

            start = run == 0 ? runStart : start;
            reported = runReported;
        }

        // Every record of both runs that was reported committed is there, exactly once, in order.
        using var conn = new SqliteConnection($"Data Source={Path.Combine(_dir.Path, "buffer.db")};Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT seq, payload FROM records ORDER BY seq";
        using var r = cmd.ExecuteReader();
        var count = 0L;
        long prevSeq = start;
        var seenN = new HashSet<(int Run, long N)>();
        var runIndex = 0;
        long prevN = -1;
        while (r.Read())
        {
            var seq = r.GetInt64(0);
            var n = JsonDocument.Parse((byte[])r.GetValue(1)).RootElement.GetProperty("n").GetInt64();
            Assert.Equal(prevSeq + 1, seq); // contiguous: nothing lost in the middle
            if (n <= prevN)
            {
                runIndex++;
                Assert.Equal(0, n); // a new run starts at 0
            }

            Assert.True(seenN.Add((runIndex, n)), $"record {n} of run {runIndex} stored twice");
            prevN = n;
            prevSeq = seq;
            count++;
        }

        Assert.Equal(1, runIndex);
        Assert.True(prevSeq >= reported, $"last stored {prevSeq} is below the reported watermark {reported}");

        // Reopening continues above everything stored.
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var next = await buffer.WriteAsync(Kit.Rec("crash/test", 0)).WithTimeout();
        Assert.Equal(prevSeq + 1, next.Sequence);
        output.WriteLine($"{count} records verified, {lines} lines read");
    }
}
