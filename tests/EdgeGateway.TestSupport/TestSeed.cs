using System.Globalization;
using Xunit.Abstractions;

namespace EdgeGateway.TestSupport;

/// <summary>
/// Seeds for randomized tests. Each run draws a fresh seed (more cases over time) and writes it to the test's
/// output, which the test runner prints when the test fails; <c>EDGEGW_TEST_SEED=N</c> replays that run.
/// </summary>
public static class TestSeed
{
    /// <summary>The environment variable that fixes every seed drawn through <see cref="Pick"/>.</summary>
    public const string Variable = "EDGEGW_TEST_SEED";

    /// <summary>The seed from <see cref="Variable"/> if set, else a fresh one; reported to <paramref name="output"/>.</summary>
    /// <param name="what">What the seed drives (e.g. "simulator fault seed"), for the report.</param>
    public static int Pick(ITestOutputHelper? output, string what = "seed")
    {
        var seed = FromEnvironment() ?? Random.Shared.Next();
        Write(output, $"{what}: {seed} (replay: {Variable}={seed})");
        return seed;
    }

    /// <summary>Writes a seed the test pinned itself (not affected by <see cref="Variable"/>), so every seed shows up.</summary>
    public static void Report(ITestOutputHelper? output, string what, int seed)
        => Write(output, $"{what}: {seed} (pinned by the test)");

    private static void Write(ITestOutputHelper? output, string line)
    {
        try
        {
            output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // Outside a running test xunit refuses output.
        }
    }

    /// <summary>The seed in <see cref="Variable"/>, or null when it is unset or empty.</summary>
    public static int? FromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed)
            ? seed
            : throw new InvalidOperationException($"{Variable}='{text}' is not a 32-bit integer seed");
    }
}
