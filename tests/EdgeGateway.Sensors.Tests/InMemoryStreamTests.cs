using System.IO.Pipelines;
using System.Text;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Lines;
using EdgeGateway.Simulator.Serial;

namespace EdgeGateway.Sensors.Tests;

/// <summary>Drivers take any <see cref="Stream"/>: the same drivers on an in-memory pipe and a memory stream, no tty at all.</summary>
public class InMemoryStreamTests
{
    [Fact]
    public async Task Nmea_driver_on_an_in_memory_pipe_decodes_the_log_fed_in_odd_chunks_and_returns_when_the_pipe_ends()
    {
        var log = File.ReadAllText(SerialPortTests.LogPath).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l + "\r\n").ToList();
        var pipe = new Pipe();
        var sink = new CollectingSink();
        var run = Task.Run(() => new NmeaGpsDriver().RunAsync(pipe.Reader.AsStream(), sink, CancellationToken.None));

        // 7-byte chunks split sentences anywhere, including inside "*hh\r\n"; a bad line sits between epochs.
        const string bad = "$GPGGA,101500.00,4723.86452,N,00832.73564,E,1,08,0.94,488.0,M,47.4,M,,*00\r\n";
        var input = Encoding.ASCII.GetBytes(string.Concat(log.Take(8)) + bad + string.Concat(log.Skip(8))); // after epoch 0
        for (var i = 0; i < input.Length; i += 7)
        {
            await pipe.Writer.WriteAsync(input.AsMemory(i, Math.Min(7, input.Length - i))).WithTimeout();
        }

        await pipe.Writer.CompleteAsync();
        await run.WithTimeout(); // end of the pipe is end of stream: the driver returns, it does not hang or throw

        var fixes = sink.Readings.Cast<GpsReading>().Select(r => r.Fix).ToList();
        Assert.Equal(12, fixes.Count);
        Assert.Equal(Enumerable.Range(0, 12), fixes.Select(f => f.UtcTime!.Value.Second));
        Assert.Equal(488.0, fixes[0].AltitudeMslM);
        Assert.Equal(493.5, fixes[11].AltitudeMslM);
        Assert.Equal(["checksum_mismatch"], sink.Rejected);
        Assert.Equal(12, sink.Ignored.Count); // one GLL per epoch
    }

    [Fact]
    public async Task Line_and_tfmini_drivers_read_a_memory_stream_to_its_end()
    {
        var lines = new CollectingSink();
        var parser = new LineSensorParser(LineFormat.Json);
        await new LineSensorDriver(parser).RunAsync(new MemoryStream("{\"co2\":415}\n{oops}\n{\"co2\":420}\n"u8.ToArray()), lines, CancellationToken.None)
            .WithTimeout();
        Assert.Equal([415.0, 420.0], lines.Readings.Cast<LineReading>().Select(r => r.Values.Single().Number!.Value));
        Assert.Equal(["invalid_json"], lines.Rejected);

        var range = new CollectingSink();
        var bad = SimulatedTfmini.Encode(500, 900, 25);
        bad[8] ^= 0x01;
        byte[] frames = [.. SimulatedTfmini.Encode(123, 900, 25), .. bad, .. SimulatedTfmini.Encode(124, 900, 25)];
        await new TfminiDriver().RunAsync(new MemoryStream(frames), range, CancellationToken.None).WithTimeout();
        Assert.Equal([123, 124], range.Readings.Cast<RangeReading>().Select(r => r.Frame.DistanceCm));
        Assert.Equal(["checksum_mismatch"], range.Rejected);
    }
}
