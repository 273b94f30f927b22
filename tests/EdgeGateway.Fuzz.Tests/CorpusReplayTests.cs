using System.Diagnostics;

namespace EdgeGateway.Fuzz.Tests;

/// <summary>
/// Every committed fuzz input (seeds and the inputs of fixed crashes) goes through its harness on every run: no
/// crash, no invariant broken, a bounded allocation and a bounded time per input.
/// </summary>
public sealed class CorpusReplayTests
{
    /// <summary>Allocation bound per input: 64 bytes per input byte plus 64 KiB (parser state, one JSON document, result objects).</summary>
    public const long AllocationBytesPerInputByte = 64;
    public const long AllocationAllowanceBytes = 64 * 1024;

    /// <summary>Generous on purpose: it catches a hang or a quadratic blow-up, not a slow machine.</summary>
    private static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(5);

    private static readonly string CorpusRoot = Path.Combine(AppContext.BaseDirectory, "corpus");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in Directory.GetDirectories(CorpusRoot).Order(StringComparer.Ordinal))
        {
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(dir), Path.GetFileName(file));
            }
        }

        return data;
    }

    [Fact]
    public void Every_target_has_seeds_and_every_corpus_folder_has_a_target()
    {
        var folders = Directory.GetDirectories(CorpusRoot).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        var targets = FuzzTargets.All.Select(t => t.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(targets, folders);
        foreach (var target in targets)
        {
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(CorpusRoot, target)));
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Corpus_input_runs_without_crash_within_allocation_and_time_bounds(string target, string file)
    {
        var harness = FuzzTargets.Find(target);
        Assert.NotNull(harness);
        var input = await File.ReadAllBytesAsync(Path.Combine(CorpusRoot, target, file));

        // On its own thread so a hang fails the test instead of stalling the run; the allocation counter is per thread.
        var run = Task.Factory.StartNew(() =>
        {
            harness.Run(input); // warm-up: JIT and static initialisation are not the parser's allocations
            var before = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            harness.Run(input);
            watch.Stop();
            return (Allocated: GC.GetAllocatedBytesForCurrentThread() - before, watch.Elapsed);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var finished = await Task.WhenAny(run, Task.Delay(TimeBound * 2));
        Assert.True(finished == run, $"{target}/{file} did not finish within {TimeBound * 2}");
        var (allocated, elapsed) = await run; // rethrows a crash or an invariant violation
        var bound = (AllocationBytesPerInputByte * input.Length) + AllocationAllowanceBytes;
        Assert.True(allocated <= bound, $"{target}/{file}: allocated {allocated} bytes for {input.Length} input bytes (bound {bound})");
        Assert.True(elapsed <= TimeBound, $"{target}/{file}: took {elapsed} (bound {TimeBound})");
    }
}
