using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using EdgeGateway.LocalApi.Hub;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>An oversize message is refused from its running size, as its bytes arrive, not when it ends.</summary>
public sealed partial class OversizeFrameTests(ITestOutputHelper output)
{
    private const int MaxFrameBytes = 16 * 1024;
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    [Fact]
    public async Task A_frame_declaring_one_tebibyte_gets_1009_at_once_and_is_not_read_beyond_the_limit()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output,
            new Dictionary<string, string?> { ["LocalApi:Limits:MaxFrameBytes"] = MaxFrameBytes.ToString(CultureInfo.InvariantCulture) });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, host.BaseAddress.Port).WithTimeout();
        var stream = tcp.GetStream();
        var upgrade = string.Join("\r\n", RawHttp.UpgradeHeaders($"127.0.0.1:{host.BaseAddress.Port}"));
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /ws HTTP/1.1\r\n{upgrade}\r\nConnection: Upgrade\r\n\r\n")).AsTask().WithTimeout();
        Assert.StartsWith("HTTP/1.1 101", await RawHttp.ReadResponseAsync(stream), StringComparison.Ordinal);
        var (opcode, _) = await ReadFrameAsync(stream);
        Assert.Equal(1, opcode); // connection_established

        // FIN + text, masked, 64-bit length 2^40, then payload for as long as the server lets us.
        var header = new byte[14];
        header[0] = 0x81;
        header[1] = 0x80 | 127;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), 1UL << 40);
        await stream.WriteAsync(header).AsTask().WithTimeout();
        var started = Stopwatch.StartNew();
        using var stopSending = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            var chunk = new byte[16 * 1024];
            Array.Fill(chunk, (byte)'x');
            try
            {
                while (!stopSending.IsCancellationRequested)
                {
                    await stream.WriteAsync(chunk, stopSending.Token);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The server dropped us, or the test is done.
            }
        });

        var (closeOpcode, payload) = await ReadFrameAsync(stream);
        var elapsed = started.Elapsed;
        // The client keeps sending (as an attacker would): the server must stop reading on its own. Stopping here
        // instead would leave the server waiting for the rest of the allowance, which proves nothing.

        Assert.Equal(8, closeOpcode);
        Assert.Equal(1009, BinaryPrimitives.ReadUInt16BigEndian(payload));
        // Generous for a busy shared machine; without the fix the close never came before the 1 TiB ended.
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"1009 after {elapsed}");
        await TaskTimeouts.Eventually(() => host.Logs.Entries.Any(e => e.Id.Id == 4038), "the server stops reading the oversize message");
        var dropped = host.Logs.Entries.First(e => e.Id.Id == 4038).Message;
        var read = long.Parse(BytesRead().Match(dropped).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(read <= MaxFrameBytes + WebSocketSession.DrainAllowance, $"read {read} bytes of the message");
        // And the connection is dropped: the server does not keep swallowing the rest.
        Assert.True(await ClosedAsync(stream), "the connection is closed after the 1009");
        await stopSending.CancelAsync();
        tcp.Close();
        await sender.WithTimeout();
    }

    private static async Task<bool> ClosedAsync(Stream stream)
    {
        var sink = new byte[4096];
        try
        {
            while (await stream.ReadAsync(sink).AsTask().WithTimeout() > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static async Task<(int Opcode, byte[] Payload)> ReadFrameAsync(Stream stream)
    {
        var head = new byte[2];
        await stream.ReadExactlyAsync(head).AsTask().WithTimeout();
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await stream.ReadExactlyAsync(ext).AsTask().WithTimeout();
            length = BinaryPrimitives.ReadUInt16BigEndian(ext);
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            await stream.ReadExactlyAsync(ext).AsTask().WithTimeout();
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(ext);
        }

        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload).AsTask().WithTimeout();
        return (head[0] & 0x0F, payload);
    }

    [GeneratedRegex(@"(\d+) bytes of it read in all")]
    private static partial Regex BytesRead();
}
