using System.Net.WebSockets;

namespace EdgeGateway.Soak;

/// <summary>N subscribers of the local API's status stream; each reconnects after the gateway comes back from a kill.</summary>
public sealed class WebSocketClients(Uri uri, int count) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private long _frames;
    private long _connects;
    private int _connected;

    public long Frames => Interlocked.Read(ref _frames);

    public long Connects => Interlocked.Read(ref _connects);

    public int Connected => Volatile.Read(ref _connected);

    public void Start()
    {
        for (var i = 0; i < count; i++)
        {
            _loops.Add(Task.Run(Loop));
        }
    }

    private async Task Loop()
    {
        var buffer = new byte[16384];
        while (!_stop.IsCancellationRequested)
        {
            using var ws = new ClientWebSocket();
            ws.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
            var counted = false;
            try
            {
                await ws.ConnectAsync(uri, _stop.Token);
                await ws.SendAsync("{\"type\":\"subscribe\",\"channel\":\"status_updates\"}"u8.ToArray(), WebSocketMessageType.Text, true, _stop.Token);
                Interlocked.Increment(ref _connects);
                Interlocked.Increment(ref _connected);
                counted = true;
                while (true)
                {
                    var r = await ws.ReceiveAsync(buffer, _stop.Token);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }

                    if (r.EndOfMessage)
                    {
                        Interlocked.Increment(ref _frames);
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or HttpRequestException)
            {
            }
            finally
            {
                if (counted)
                {
                    Interlocked.Decrement(ref _connected);
                }
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        _stop.Dispose();
    }
}
