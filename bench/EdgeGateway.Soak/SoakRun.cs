using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EdgeGateway.Soak;

public enum FaultKind
{
    BrokerRestart,
    UplinkCut,
    UplinkBlackhole,
    BrokerSigstop,
    GatewayKill9,
    DroneLinkLoss,
    SerialUnplug,
    DiskNearlyFull,
}

/// <summary>
/// One soak run: the daemon on its simulator (drones over UDP, serial sensors on ptys) with an MQTT sink to Mosquitto
/// through <see cref="FaultProxy"/> and a relay sink to samples/RelayReceiver, WebSocket clients on the local API, a
/// seeded fault schedule, then a drain and a reconciliation of every committed record against both consumers.
/// </summary>
public static class SoakRun
{
    public const string GatewayId = "soak";
    private const string RelayToken = "soak-relay-token";
    private const long FileSystemBytes = 64L << 20;
    private const long MaxBytes = 24L << 20;
    private const long MinFreeDiskBytes = 16L << 20;

    /// <summary>The forwarders' inflight window (Buffer:Sinks:*:InflightWindow, default 1000): duplicates per reconnect stay within it.</summary>
    public const int InflightWindow = 1000;

    public static async Task<SoakResult> RunAsync(SoakOptions options, TextWriter output)
    {
        var work = options.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "edgegw-soak-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(work);
        var disk = Path.Combine(work, "disk");
        Directory.CreateDirectory(disk);
        var mounted = await MountSmallFileSystemAsync(disk);
        var dataDir = Path.Combine(disk, "data");
        output.WriteLine($"soak: seed {options.Seed} (replay: EDGEGW_SOAK_SEED={options.Seed}), {options.Minutes} min of faults, " +
            $"{options.Clients} WebSocket clients, a fault every {options.FaultEvery} s, work dir {work}");
        output.WriteLine(mounted
            ? $"soak: data directory on a {FileSystemBytes >> 20} MiB tmpfs (MaxBytes {MaxBytes >> 20} MiB, MinFreeDiskBytes {MinFreeDiskBytes >> 20} MiB)"
            : $"soak: FALLBACK, no small filesystem (mount -t tmpfs refused: not root?): byte budget only (MaxBytes {MaxBytes >> 20} MiB), no disk-full fault");

        var rng = new Random(options.Seed);
        var faults = Enum.GetValues<FaultKind>().Where(k => mounted || k != FaultKind.DiskNearlyFull).ToArray();
        var counts = Enum.GetValues<FaultKind>().ToDictionary(k => k, _ => 0);
        var epochStarts = new List<long>();
        var mqtt = new Deliveries("mqtt");
        var relay = new Deliveries("relay");
        var run = Stopwatch.StartNew();

        await using var broker = new Broker(Path.Combine(work, "broker"));
        await broker.StartAsync();
        await using var proxy = new FaultProxy(broker.Port);
        var verifierId = "soak-verifier-" + options.Seed.ToString(CultureInfo.InvariantCulture);
        ChildProcess StartVerifier() => ChildProcess.Start(Net.Find("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), "-i", verifierId, "-c", "-q", "1", "-t", $"edge/{GatewayId}/#", "-v"],
            line =>
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0)
                {
                    mqtt.AddMqttPayload(line[(space + 1)..]);
                }
            });
        var verifier = StartVerifier();
        var verifierRestarts = 0;

        var relayPort = Net.FreeTcpPort();
        await using var receiver = ChildProcess.Start("dotnet",
            [Path.Combine(options.BinDirectory, "RelayReceiver.dll"), "--token", RelayToken, "--urls", $"http://127.0.0.1:{relayPort}"],
            line => relay.AddRelayLine(line, GatewayId));

        var droneAddress = Net.SimulatorAddress();
        var httpPort = Net.FreeTcpPort();
        var controlSocket = Path.Combine(work, "sim.sock");
        var inv = CultureInfo.InvariantCulture;
        string[] gatewayArgs =
        [
            "--simulate", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{httpPort}",
            $"--Simulator:Address={droneAddress}", $"--Simulator:CommandPort={Net.FreeUdpPort(droneAddress)}",
            "--Drones:CommandPort=0", $"--Drones:StatePort={Net.FreeUdpPort(System.Net.IPAddress.Loopback)}",
            $"--Simulator:StateInterval={options.StateInterval.ToString("c", inv)}",
            $"--Simulator:ControlSocket={controlSocket}",
            $"--Upstream:GatewayId={GatewayId}",
            "--upstream", $"mqtt://127.0.0.1:{proxy.Port}",
            "--upstream", $"ws://127.0.0.1:{relayPort}/relay",
            // Short dead-link detection and backoff, so a fault costs seconds and a 2-minute run sees every kind heal.
            "--Upstream:Mqtt:KeepAlive=00:00:05", "--Upstream:Mqtt:PingTimeout=00:00:03", "--Upstream:Mqtt:ConnectTimeout=00:00:05",
            "--Upstream:Mqtt:AckTimeout=00:00:10", "--Upstream:Mqtt:Backoff:InitialDelay=00:00:00.500", "--Upstream:Mqtt:Backoff:MaxDelay=00:00:04",
            "--Upstream:Relay:KeepAlive=00:00:05", "--Upstream:Relay:PingTimeout=00:00:03", "--Upstream:Relay:AckTimeout=00:00:10",
            "--Upstream:Relay:Backoff:InitialDelay=00:00:00.500", "--Upstream:Relay:Backoff:MaxDelay=00:00:04",
            "--Buffer:Sinks:mqtt:AckTimeout=00:00:15", "--Buffer:Sinks:relay:AckTimeout=00:00:15",
            "--Buffer:Sinks:mqtt:RetryMaxDelay=00:00:04", "--Buffer:Sinks:relay:RetryMaxDelay=00:00:04",
            $"--Buffer:MaxBytes={MaxBytes}", $"--Buffer:MinFreeDiskBytes={MinFreeDiskBytes}",
        ];
        await using var gateway = new GatewayRunner(Path.Combine(options.BinDirectory, "edge-gateway.dll"), gatewayArgs,
            new Dictionary<string, string> { ["EDGEGW_UPSTREAM_TOKEN"] = RelayToken, ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" },
            new Uri($"http://127.0.0.1:{httpPort}"), Path.Combine(work, "gateway.log"));
        WebSocketClients? clients = null;
        var filler = Path.Combine(disk, "filler");
        var drained = false;
        var problems = new List<string>();
        try
        {
            await gateway.StartAsync();
            clients = new WebSocketClients(new Uri($"ws://127.0.0.1:{httpPort}/ws"), options.Clients);
            clients.Start();
            await WaitAsync(async () => await SinksConnectedAsync(gateway), TimeSpan.FromMinutes(2), "both sinks connected at start");

            // Fault phase: one fault per slot, kinds in a seeded shuffle per round so that every kind comes up.
            var slots = Math.Max(faults.Length, (int)(options.Minutes * 60 / options.FaultEvery));
            var slot = TimeSpan.FromSeconds(options.Minutes * 60 / slots);
            var order = new List<FaultKind>();
            var phase = Stopwatch.StartNew();
            for (var i = 0; i < slots; i++)
            {
                if (order.Count == 0)
                {
                    order.AddRange(faults);
                    rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(order));
                }

                var kind = order[0];
                order.RemoveAt(0);
                var seconds = 2 + rng.NextDouble() * Math.Max(1, slot.TotalSeconds * 0.5 - 2);
                if (await gateway.RestartIfExitedAsync())
                {
                    output.WriteLine($"soak: {run.Elapsed:hh\\:mm\\:ss} the gateway had exited on its own and was restarted");
                }

                if (verifier.HasExited)
                {
                    await verifier.DisposeAsync();
                    verifier = StartVerifier();
                    verifierRestarts++;
                }

                epochStarts.Add(Stopwatch.GetTimestamp());
                output.WriteLine($"soak: {run.Elapsed:hh\\:mm\\:ss} fault {i + 1}/{slots}: {kind} ({seconds:0.0} s)");
                await InjectAsync(kind, TimeSpan.FromSeconds(seconds), broker, proxy, gateway, controlSocket, filler, rng);
                counts[kind]++;
                var slotEnd = slot * (i + 1);
                if (phase.Elapsed < slotEnd)
                {
                    await Task.Delay(slotEnd - phase.Elapsed);
                }
            }

            if (await gateway.RestartIfExitedAsync())
            {
                output.WriteLine("soak: the gateway had exited on its own and was restarted");
            }

            // Drain: everything committed up to now must reach both consumers.
            epochStarts.Add(Stopwatch.GetTimestamp());
            var status = await gateway.BufferStatusAsync() ?? throw new InvalidOperationException("no /api/buffer at the end:\n" + gateway.Tail);
            var watermark = status.GetProperty("committed_sequence").GetInt64();
            output.WriteLine($"soak: {run.Elapsed:hh\\:mm\\:ss} faults done; draining up to sequence {watermark}");
            drained = await TryWaitAsync(async () => await CursorsAtLeastAsync(gateway, watermark), options.DrainTimeout);
            if (!drained)
            {
                problems.Add($"the sinks' cursors did not reach {watermark} within {options.DrainTimeout}: {(await gateway.BufferStatusAsync())?.GetRawText()}");
            }

            var store = await ReadStoreAsync(gateway.Http);
            // Acknowledged by the broker is not yet printed by mosquitto_sub: wait for the consumers themselves.
            var expected = store.Records.Keys.Where(s => s <= watermark).ToList();
            var consumersHaveAll = await TryWaitAsync(() => Task.FromResult(expected.All(mqtt.Has) && expected.All(relay.Has)), TimeSpan.FromMinutes(2));
            if (!consumersHaveAll)
            {
                problems.Add("the consumers did not get every stored record within 2 min of the drain");
            }

            await gateway.StopAsync();
            var report = Reconcile(store, watermark, [mqtt, relay], epochStarts);
            var result = new SoakResult
            {
                Seed = options.Seed,
                Minutes = options.Minutes,
                Clients = options.Clients,
                SmallFileSystem = mounted,
                Sinks = report,
                FaultCounts = counts,
                GatewayStarts = gateway.Starts,
                UnexpectedExits = gateway.UnexpectedExits,
                PeakRssBytes = gateway.PeakRssBytes,
                CpuSeconds = gateway.CpuSeconds,
                WallSeconds = run.Elapsed.TotalSeconds,
                WebSocketFrames = clients.Frames,
                WebSocketConnects = clients.Connects,
                VerifierRestarts = verifierRestarts,
                IntakeDropped = store.IntakeDropped,
                Problems = problems,
                ExpectedKinds = faults,
            };
            result.Print(output);
            return result;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or HttpRequestException or SocketException)
        {
            output.WriteLine($"soak: FAILED: {ex.Message}\n--- gateway output (tail) ---\n{gateway.Tail}");
            return new SoakResult { Seed = options.Seed, Problems = [ex.Message], FaultCounts = counts, ExpectedKinds = faults };
        }
        finally
        {
            if (clients is not null)
            {
                await clients.DisposeAsync();
            }

            broker.Resume();
            File.Delete(filler);
            await gateway.StopAsync();
            await verifier.DisposeAsync();
            if (mounted)
            {
                await RunAsync("umount", ["-l", disk]);
            }

            if (options.WorkDirectory is null)
            {
                try
                {
                    Directory.Delete(work, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static async Task InjectAsync(FaultKind kind, TimeSpan duration, Broker broker, FaultProxy proxy, GatewayRunner gateway,
        string controlSocket, string filler, Random rng)
    {
        switch (kind)
        {
            case FaultKind.BrokerRestart:
                await broker.RestartAsync(TimeSpan.FromSeconds(Math.Min(3, duration.TotalSeconds)));
                break;
            case FaultKind.UplinkCut:
                proxy.CutAll();
                break;
            case FaultKind.UplinkBlackhole:
                proxy.StartBlackhole();
                await Task.Delay(duration + TimeSpan.FromSeconds(6)); // past keepalive + ping timeout: the client must find it dead
                proxy.EndBlackhole();
                break;
            case FaultKind.BrokerSigstop:
                broker.Pause();
                await Task.Delay(duration);
                broker.Resume();
                break;
            case FaultKind.GatewayKill9:
                await gateway.KillAndRestartAsync();
                break;
            case FaultKind.DroneLinkLoss:
                await ControlAsync(controlSocket, "drone-link lose");
                await Task.Delay(duration);
                await ControlAsync(controlSocket, "drone-link return");
                break;
            case FaultKind.SerialUnplug:
                var sensor = new[] { "gps0", "air0", "tfmini0", "all" }[rng.Next(4)];
                await ControlAsync(controlSocket, "serial unplug " + sensor);
                await Task.Delay(duration);
                await ControlAsync(controlSocket, "serial replug " + sensor);
                break;
            case FaultKind.DiskNearlyFull:
                await FillAsync(filler, Path.GetDirectoryName(filler)!, MinFreeDiskBytes / 2);
                await Task.Delay(duration);
                File.Delete(filler);
                break;
        }
    }

    /// <summary>Writes real bytes (tmpfs would not count a sparse file) until the volume has about <paramref name="leaveFree"/> free.</summary>
    private static async Task FillAsync(string filler, string volume, long leaveFree)
    {
        var chunk = new byte[1 << 20];
        Array.Fill(chunk, (byte)0x5A);
        await using var file = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
        while (new DriveInfo(volume).AvailableFreeSpace - chunk.Length > leaveFree)
        {
            await file.WriteAsync(chunk);
            await file.FlushAsync();
        }
    }

    private static async Task ControlAsync(string socketPath, string command)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(command + "\n"));
        using var reader = new StreamReader(stream);
        var answer = await reader.ReadLineAsync();
        if (answer != "ok")
        {
            throw new InvalidOperationException($"simulator control \"{command}\": {answer}");
        }
    }

    private static async Task<bool> MountSmallFileSystemAsync(string path)
        => await RunAsync("mount", ["-t", "tmpfs", "-o", $"size={FileSystemBytes >> 20}m,mode=0755", "tmpfs", path]) == 0;

    private static async Task<int> RunAsync(string file, string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args)
            {
                info.ArgumentList.Add(a);
            }

            using var p = Process.Start(info)!;
            await p.WaitForExitAsync();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }

    private static async Task<bool> SinksConnectedAsync(GatewayRunner gateway)
    {
        var status = await gateway.BufferStatusAsync();
        return status is { } s && s.GetProperty("sinks").EnumerateArray().Count(x => x.GetProperty("connected").GetBoolean()) == 2;
    }

    private static async Task<bool> CursorsAtLeastAsync(GatewayRunner gateway, long watermark)
    {
        if (await gateway.RestartIfExitedAsync())
        {
            return false;
        }

        var status = await gateway.BufferStatusAsync();
        return status is { } s && s.GetProperty("sinks").GetArrayLength() == 2
            && s.GetProperty("sinks").EnumerateArray().All(x => x.GetProperty("cursor").GetInt64() >= watermark);
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        if (!await TryWaitAsync(condition, deadline))
        {
            throw new TimeoutException($"not true within {deadline}: {what}");
        }
    }

    private static async Task<bool> TryWaitAsync(Func<Task<bool>> condition, TimeSpan deadline)
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(500);
        }

        return await condition();
    }

    /// <summary>Every record of the store through <c>/api/telemetry</c>, and the gap records' ranges.</summary>
    private static async Task<StoreContents> ReadStoreAsync(HttpClient http)
    {
        var contents = new StoreContents();
        long after = 0;
        while (true)
        {
            var text = await http.GetStringAsync($"/api/telemetry?after_seq={after}&limit=1000");
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            foreach (var r in root.GetProperty("records").EnumerateArray())
            {
                var seq = r.GetProperty("seq").GetInt64();
                var stream = r.GetProperty("stream").GetString() ?? "";
                contents.Records[seq] = stream;
                if (r.GetProperty("kind").GetString() == "gap" && r.TryGetProperty("payload", out var p) && p.ValueKind == JsonValueKind.Object)
                {
                    var reason = p.TryGetProperty("reason", out var re) ? re.GetString() ?? "" : "";
                    var count = p.TryGetProperty("count", out var c) ? c.GetInt64() : 0;
                    if (p.TryGetProperty("from_seq", out var from) && from.ValueKind == JsonValueKind.Number)
                    {
                        contents.Gaps.Add(new Gap(stream, from.GetInt64(), p.GetProperty("to_seq").GetInt64(), count, reason));
                    }
                    else if (reason == "intake_full")
                    {
                        contents.IntakeDropped += count;
                    }
                }
            }

            if (!root.GetProperty("more").GetBoolean() || root.GetProperty("count").GetInt32() == 0)
            {
                return contents;
            }

            after = root.GetProperty("next_after_seq").GetInt64();
        }
    }

    /// <summary>
    /// Sequences are contiguous per store (docs/buffer.md): every sequence from the first to the watermark is a committed
    /// record. Each must have reached each consumer, unless it was evicted before it was sent, and then a gap record must
    /// cover it.
    /// </summary>
    public static List<SinkReport> Reconcile(StoreContents store, long watermark, IReadOnlyList<Deliveries> sinks, List<long> epochStarts)
    {
        var snapshots = sinks.Select(s => (s.Sink, Arrivals: s.Snapshot())).ToList();
        // Gap records from the store and from what the consumers got (a delivered gap record may be evicted since).
        var gaps = store.Gaps.Concat(sinks.SelectMany(s => s.Gaps())).Where(g => g.Reason != "intake_full").Distinct().OrderBy(g => g.From).ToList();
        var first = store.Records.Keys.Concat(gaps.Select(g => g.From)).Concat(snapshots.SelectMany(s => s.Arrivals.Select(a => a.Seq)))
            .DefaultIfEmpty(watermark + 1).Min();
        var reports = new List<SinkReport>();
        foreach (var (sink, arrivals) in snapshots)
        {
            var delivered = arrivals.Select(a => a.Seq).ToHashSet();
            var report = new SinkReport { Sink = sink, Committed = Math.Max(0, watermark - first + 1) };
            for (var s = first; s <= watermark; s++)
            {
                if (delivered.Contains(s))
                {
                    report.Delivered++;
                }
                else if (store.Records.ContainsKey(s))
                {
                    report.Lost++;
                }
                else if (gaps.Any(g => g.From <= s && s <= g.To))
                {
                    report.EvictedUnsent++;
                }
                else
                {
                    report.LostUncovered++;
                    if (report.Examples.Count < 10)
                    {
                        var near = gaps.Where(g => Math.Abs(g.From - s) < 5000 || Math.Abs(g.To - s) < 5000).Take(6)
                            .Select(g => $"gap {g.Stream} {g.From}..{g.To} n={g.Count} {g.Reason}");
                        report.Examples.Add($"seq {s} not delivered, not stored, no gap; {string.Join("; ", near)}; " +
                            $"delivered just before: {string.Join(",", arrivals.Where(a => a.Seq < s && a.Seq > s - 4).Select(a => $"{a.Seq} {a.Stream}"))}");
                    }
                }
            }

            // Duplicates by the fault epoch they arrived in; first deliveries must rise per stream.
            var seen = new HashSet<long>();
            var lastFirst = new Dictionary<string, long>(StringComparer.Ordinal);
            var perEpoch = new int[epochStarts.Count + 1];
            foreach (var (seq, stream, at) in arrivals)
            {
                if (!seen.Add(seq))
                {
                    report.Duplicates++;
                    var epoch = epochStarts.BinarySearch(at);
                    perEpoch[epoch < 0 ? ~epoch : epoch + 1]++;
                    continue;
                }

                if (lastFirst.TryGetValue(stream, out var last) && seq < last)
                {
                    report.OrderViolations++;
                }
                else
                {
                    lastFirst[stream] = seq;
                }
            }

            report.MaxDuplicatesPerFault = perEpoch.DefaultIfEmpty(0).Max();
            reports.Add(report);
        }

        return reports;
    }
}

public sealed record Gap(string Stream, long From, long To, long Count, string Reason);

public sealed class StoreContents
{
    public Dictionary<long, string> Records { get; } = [];

    public List<Gap> Gaps { get; } = [];

    public long IntakeDropped { get; set; }
}

public sealed class SinkReport
{
    public required string Sink { get; init; }

    public long Committed { get; set; }

    public long Delivered { get; set; }

    /// <summary>In the store after the drain and never delivered: must be 0.</summary>
    public long Lost { get; set; }

    /// <summary>Evicted before delivery and not covered by any gap record: must be 0.</summary>
    public long LostUncovered { get; set; }

    /// <summary>Evicted (budget, free disk) before delivery, each covered by a gap record: allowed.</summary>
    public long EvictedUnsent { get; set; }

    public long Duplicates { get; set; }

    public int MaxDuplicatesPerFault { get; set; }

    public long OrderViolations { get; set; }

    /// <summary>The first few lost records, with what is near them, for the investigation.</summary>
    public List<string> Examples { get; } = [];
}
