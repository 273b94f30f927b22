using System.Net.Http.Json;
using System.Text.Json;

namespace EdgeGateway.Tests;

/// <summary>kill -9 of the real daemon while it takes in records fast: nothing reported committed is lost.</summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-crash-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Sigkill_while_taking_in_records_at_a_high_rate_loses_nothing_reported_committed_and_duplicates_nothing()
    {
        // Four simulated drones sending state every 2 ms: about 2,000 records/s into the buffer.
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        args.AddRange(["--Simulator:Drones=4", "--Simulator:StateInterval=00:00:00.002"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

        long reportedCommitted;
        await using (var first = GatewayProcess.Start(args))
        {
            await WaitForCommitted(http, atLeastRecords: 3000, first);
            reportedCommitted = (await Status(http)).GetProperty("committed_sequence").GetInt64();
            first.Signal(GatewayProcess.SigKill);
            Assert.Equal(137 - 128, await first.WaitForExitAsync() - 128);
        }

        // The records the first run reported committed, read back after the crash from a restarted daemon.
        await using var second = GatewayProcess.Start(args);
        await TaskTimeouts.Eventually(() => TryStatus(http) is not null, () => "the restarted daemon answers\n" + second.Output, TimeSpan.FromSeconds(45));
        var afterRestart = await AllRecords(http);
        Assert.True(afterRestart.Count(r => r.Seq <= reportedCommitted) >= 3000,
            $"only {afterRestart.Count(r => r.Seq <= reportedCommitted)} records at or below the reported watermark {reportedCommitted}");

        // Every sequence from the first record up to the reported watermark is there (a hole only where a gap
        // record says records were evicted), and no record was stored twice under two sequences.
        AssertContiguous(afterRestart, reportedCommitted);
        AssertNoRecordStoredTwice(afterRestart);

        // New records continue upward right after the crashed run's last one, with nothing in between lost.
        var maxAfterCrash = afterRestart[^1].Seq;
        await TaskTimeouts.Eventually(() => (TryStatus(http)?.GetProperty("committed_sequence").GetInt64() ?? 0) > maxAfterCrash + 100,
            "the restarted daemon commits new records", TimeSpan.FromSeconds(30));
        var later = await AllRecords(http);
        Assert.True(later[^1].Seq > maxAfterCrash + 100);
        AssertContiguous(later, later[^1].Seq);
        AssertNoRecordStoredTwice(later);
        var laterBySeq = later.ToDictionary(r => r.Seq);
        Assert.All(afterRestart, r => Assert.Equal(r, laterBySeq[r.Seq])); // the restart rewrote nothing

        // The API returns what the store holds: stop the daemon and read the file itself.
        second.Signal(GatewayProcess.SigTerm);
        await second.WaitForExitAsync();
        var dbPath = Path.Combine(_dataDir, "buffer.db");
        Assert.True(File.Exists(dbPath), $"no store at {dbPath}");
        var inFile = new List<long>();
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dbPath};Mode=ReadOnly;Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT seq FROM records WHERE seq <= $max ORDER BY seq;";
            cmd.Parameters.AddWithValue("$max", later[^1].Seq);
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                inFile.Add(reader.GetInt64(0));
            }
        }

        Assert.Equal(inFile, later.Select(r => r.Seq));
    }

    /// <summary>Sequences from the first stored record to <paramref name="upTo"/> have no hole that no gap record explains.</summary>
    private static void AssertContiguous(List<StoredRecord> records, long upTo)
    {
        var evicted = records.Where(r => r.Kind == "gap" && r.GapFrom is not null).Select(r => (From: r.GapFrom!.Value, To: r.GapTo!.Value)).ToList();
        var seqs = records.Select(r => r.Seq).Where(s => s <= upTo).ToList();
        Assert.Contains(upTo, seqs);
        for (var i = 1; i < seqs.Count; i++)
        {
            Assert.True(seqs[i] > seqs[i - 1], $"sequence {seqs[i]} after {seqs[i - 1]}");
            for (var missing = seqs[i - 1] + 1; missing < seqs[i]; missing++)
            {
                Assert.True(evicted.Any(g => g.From <= missing && missing <= g.To),
                    $"sequence {missing} is missing between {seqs[i - 1]} and {seqs[i]} and no gap record covers it");
            }
        }
    }

    /// <summary>A record committed twice would come back twice with the same stream, capture timestamp and payload.</summary>
    private static void AssertNoRecordStoredTwice(List<StoredRecord> records)
    {
        var twice = records.Where(r => r.Kind != "gap").GroupBy(r => (r.Stream, r.Monotonic, r.Payload)).Where(g => g.Count() > 1)
            .Select(g => string.Join(",", g.Select(r => r.Seq))).ToList();
        Assert.True(twice.Count == 0, "stored twice under sequences: " + string.Join("; ", twice.Take(5)));
    }

    private sealed record StoredRecord(long Seq, string Stream, string Kind, long Monotonic, string Payload, long? GapFrom, long? GapTo);

    private static async Task WaitForCommitted(HttpClient http, int atLeastRecords, GatewayProcess process)
    {
        await TaskTimeouts.Eventually(() => (TryStatus(http)?.GetProperty("depth").GetInt64() ?? 0) >= atLeastRecords,
            () => $"{atLeastRecords} records committed\n" + process.Output, TimeSpan.FromSeconds(60));
    }

    private static async Task<JsonElement> Status(HttpClient http) => await http.GetFromJsonAsync<JsonElement>("/api/buffer").WithTimeout();

    private static JsonElement? TryStatus(HttpClient http)
    {
        try
        {
            return http.GetFromJsonAsync<JsonElement>("/api/buffer").WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Every record in the store, paging through /api/telemetry.</summary>
    private static async Task<List<StoredRecord>> AllRecords(HttpClient http)
    {
        var all = new List<StoredRecord>();
        long after = 0;
        while (true)
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"/api/telemetry?after_seq={after}&limit=1000").WithTimeout();
            var records = page.GetProperty("records");
            if (records.GetArrayLength() == 0)
            {
                return all;
            }

            foreach (var r in records.EnumerateArray())
            {
                var payload = r.GetProperty("payload");
                var kind = r.GetProperty("kind").GetString()!;
                long? from = null;
                long? to = null;
                if (kind == "gap" && payload.TryGetProperty("from_seq", out var f) && f.ValueKind == JsonValueKind.Number)
                {
                    from = f.GetInt64();
                    to = payload.GetProperty("to_seq").GetInt64();
                }

                all.Add(new StoredRecord(r.GetProperty("seq").GetInt64(), r.GetProperty("stream").GetString()!, kind,
                    r.GetProperty("monotonic_ts").GetInt64(), payload.GetRawText() + r.GetProperty("payload_base64").GetRawText(), from, to));
            }

            after = page.GetProperty("next_after_seq").GetInt64();
        }
    }
}
