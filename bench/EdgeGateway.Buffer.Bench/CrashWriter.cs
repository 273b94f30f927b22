using System.Diagnostics;
using System.Globalization;
using EdgeGateway.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Buffer.Bench;

/// <summary>
/// Child process for the store-level kill -9 test: writes records as fast as it can and prints
/// <c>COMMITTED &lt;seq&gt;</c> each time the committed watermark moves, so the parent knows what was
/// reported stored when it kills this process.
/// </summary>
internal static class CrashWriter
{
    public static async Task<int> RunAsync(string dir)
    {
        var options = Program.Options(dir, Durability.Normal, intake: 65536);
        options.BatchInterval = TimeSpan.FromMilliseconds(5);
        options.BatchSize = 512;
        var buffer = new RecordBuffer(options, TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        var stdout = Console.Out;
        stdout.WriteLine($"START {buffer.CommittedSequence.ToString(CultureInfo.InvariantCulture)}");
        stdout.Flush();
        var start = buffer.CommittedSequence;
        var reported = start;
        var reporter = Task.Run(async () =>
        {
            while (true)
            {
                await buffer.WaitForCommittedAsync(reported + 1).ConfigureAwait(false);
                reported = buffer.CommittedSequence;
                stdout.WriteLine($"COMMITTED {reported.ToString(CultureInfo.InvariantCulture)}");
                stdout.Flush();
            }
        });
        long n = 0;
        while (true)
        {
            // Pace on the watermark so the intake never drops: every produced record must end up stored.
            while (n - (buffer.CommittedSequence - start) > 20_000)
            {
                await Task.Delay(1).ConfigureAwait(false);
            }

            buffer.TryWrite(new TelemetryRecord("crash/test", RecordKind.SensorReading, DateTimeOffset.UtcNow, TimeSource.Unsynced,
                Stopwatch.GetTimestamp(), Program.Payload(n++)));
            if ((n & 255) == 0)
            {
                await Task.Yield();
            }
        }
    }
}
