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
        var afterRestart = await AllSequences(http);
        var committedBeforeKill = afterRestart.Where(s => s <= reportedCommitted).ToList();

        Assert.Equal(afterRestart.Count, afterRestart.Distinct().Count());
        Assert.True(committedBeforeKill.Count >= 3000, $"only {committedBeforeKill.Count} records at or below the reported watermark {reportedCommitted}");
        Assert.Contains(reportedCommitted, afterRestart);

        // New records continue upward from where the crashed run stopped.
        var maxAfterCrash = afterRestart.Max();
        await TaskTimeouts.Eventually(() => (TryStatus(http)?.GetProperty("committed_sequence").GetInt64() ?? 0) > maxAfterCrash + 100,
            "the restarted daemon commits new records", TimeSpan.FromSeconds(30));
        var later = await AllSequences(http);
        Assert.Equal(later.Count, later.Distinct().Count());
        Assert.True(later.Where(s => s > maxAfterCrash).Min() > maxAfterCrash);
        Assert.Equal(later.OrderBy(s => s), later);
    }

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

    /// <summary>Every sequence in the store, paging through /api/telemetry.</summary>
    private static async Task<List<long>> AllSequences(HttpClient http)
    {
        var all = new List<long>();
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
                all.Add(r.GetProperty("seq").GetInt64());
            }

            after = page.GetProperty("next_after_seq").GetInt64();
        }
    }
}
