using System.Net.Sockets;
using System.Text;
using EdgeGateway.Simulator;
using EdgeGateway.Simulator.Serial;

namespace EdgeGateway.Simulation;

/// <summary>
/// Runtime faults for <c>--simulate</c>, driven from outside the process (the soak run): a Unix stream socket at
/// <c>Simulator:ControlSocket</c> taking one command line per connection and answering <c>ok</c> or <c>error: …</c>.
/// <list type="bullet">
/// <item><c>drone-link lose</c> / <c>drone-link return</c>: every simulated drone stops / resumes its state stream
/// (link loss as the gateway sees it).</item>
/// <item><c>serial unplug ID</c> / <c>serial replug ID</c>: pull / plug back the adapter of <c>gps0</c>, <c>air0</c>,
/// <c>tfmini0</c> or <c>all</c>.</item>
/// </list>
/// Only root (or the daemon's user) can reach the socket: it is created mode 0600.
/// </summary>
internal sealed class SimulatorControl : IAsyncDisposable
{
    private static readonly string[] SensorIds = [SerialSensorSimulator.GpsId, SerialSensorSimulator.LineSensorId, SerialSensorSimulator.TfminiId];

    private readonly Socket _listener;
    private readonly string _path;
    private readonly IReadOnlyList<TelloSimulator> _drones;
    private readonly SerialSensorSimulator? _serial;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private SimulatorControl(Socket listener, string path, IReadOnlyList<TelloSimulator> drones, SerialSensorSimulator? serial)
    {
        _listener = listener;
        _path = path;
        _drones = drones;
        _serial = serial;
        _loop = AcceptLoop();
    }

    public static SimulatorControl Start(string path, IReadOnlyList<TelloSimulator> drones, SerialSensorSimulator? serial)
    {
        File.Delete(path); // a socket file left by a killed run
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            listener.Listen(8);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new SimulatorControl(listener, path, drones, serial);
    }

    /// <summary>Runs one command; the answer is what the client reads.</summary>
    public string Execute(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        switch (words)
        {
            case ["drone-link", "lose"]:
                foreach (var drone in _drones)
                {
                    drone.PauseState();
                }

                return "ok";
            case ["drone-link", "return"]:
                foreach (var drone in _drones)
                {
                    drone.ResumeState();
                }

                return "ok";
            case ["serial", "unplug" or "replug", var id]:
                if (_serial is null)
                {
                    return "error: the serial sensors are off (Simulator:SerialSensors=false)";
                }

                if (id != "all" && Array.IndexOf(SensorIds, id) < 0)
                {
                    return $"error: unknown sensor \"{id}\" (gps0, air0, tfmini0 or all)";
                }

                foreach (var sensor in id == "all" ? SensorIds : [id])
                {
                    _ = words[1] == "unplug" ? _serial.Unplug(sensor) : _serial.Replug(sensor);
                }

                return "ok";
            default:
                return "error: unknown command (drone-link lose|return, serial unplug|replug gps0|air0|tfmini0|all)";
        }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            using (client)
            {
                try
                {
                    await using var stream = new NetworkStream(client, ownsSocket: false);
                    using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(TimeSpan.FromSeconds(10));
                    var line = await reader.ReadLineAsync(timeout.Token).ConfigureAwait(false) ?? "";
                    string answer;
                    try
                    {
                        answer = Execute(line);
                    }
                    catch (Exception ex) when (ex is IOException or InvalidOperationException or ArgumentException)
                    {
                        answer = "error: " + ex.Message;
                    }

                    await stream.WriteAsync(Encoding.UTF8.GetBytes(answer + "\n"), timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
                {
                    // A client that went away or never sent its line; the next one is served.
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }
}
