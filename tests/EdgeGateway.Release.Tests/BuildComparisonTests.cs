using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EdgeGateway.Tests;
using Xunit.Abstractions;

namespace EdgeGateway.Release.Tests;

/// <summary>
/// The published (NativeAOT or trimmed) daemon against the JIT build, each on its own <c>--simulate</c> run with its own
/// data directory and ports: every documented endpoint answers with the same status and the same body shape, and a
/// WebSocket subscription's frames have the same shape. This is the regression class a trimmed build hides: reflection
/// that silently serialized <c>{}</c> or threw where the JIT build answered. Run by scripts/compare-builds.sh [BINARY].
/// </summary>
public sealed class BuildComparisonTests(ITestOutputHelper output)
{
    /// <summary>The published binary to compare with the JIT build (scripts/compare-builds.sh sets it).</summary>
    public const string BinaryVariable = "EDGEGW_COMPARE_BINARY";

    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(120);

    private static string PublishedBinary()
    {
        var path = Environment.GetEnvironmentVariable(BinaryVariable);
        Assert.False(string.IsNullOrEmpty(path),
            $"{BinaryVariable} is not set: run scripts/compare-builds.sh [BINARY], which publishes the NativeAOT build and sets it");
        Assert.True(File.Exists(path), $"{BinaryVariable}={path}: no such file");
        return Path.GetFullPath(path);
    }

    /// <summary>One request of the comparison: what is sent, under a name for the report.</summary>
    private sealed record Probe(string Name, HttpMethod Method, string Path, string? JsonBody = null, string? ContentType = "application/json");

    private static readonly Probe[] Probes =
    [
        new("healthz", HttpMethod.Get, "/healthz"),
        new("drone status", HttpMethod.Get, "/api/drone/status"),
        new("drone status, unknown drone", HttpMethod.Get, "/api/drone/status?drone_id=nosuch"),
        new("drones", HttpMethod.Get, "/api/drones"),
        new("gateway", HttpMethod.Get, "/api/gateway"),
        new("sensors", HttpMethod.Get, "/api/sensors"),
        new("one sensor", HttpMethod.Get, "/api/sensors/gps0"),
        new("unknown sensor", HttpMethod.Get, "/api/sensors/nosuch"),
        new("buffer", HttpMethod.Get, "/api/buffer"),
        new("telemetry", HttpMethod.Get, "/api/telemetry?limit=20"),
        new("telemetry of one stream", HttpMethod.Get, "/api/telemetry?stream=drone/tello-1/state&limit=5&every_ms=100"),
        new("telemetry, bad limit", HttpMethod.Get, "/api/telemetry?limit=abc"),
        new("telemetry, bad since_ms", HttpMethod.Get, "/api/telemetry?since_ms=-1"),
        new("dead letters", HttpMethod.Get, "/api/upstream/dead-letters"),
        new("dead letters, bad limit", HttpMethod.Get, "/api/upstream/dead-letters?limit=0"),
        new("unknown api route", HttpMethod.Get, "/api/nosuch"),
        new("execute with GET", HttpMethod.Get, "/api/drone/execute"),
        new("get_battery", HttpMethod.Post, "/api/drone/execute", """{"action":"get_battery"}"""),
        new("get_status", HttpMethod.Post, "/api/drone/execute", """{"action":"get_status"}"""),
        new("take_control", HttpMethod.Post, "/api/drone/execute", """{"action":"take_control"}"""),
        new("takeoff", HttpMethod.Post, "/api/drone/execute", """{"action":"takeoff"}"""),
        new("move_up", HttpMethod.Post, "/api/drone/execute", """{"action":"move_up","parameters":{"distance":30}}"""),
        new("out of range", HttpMethod.Post, "/api/drone/execute", """{"action":"move_up","parameters":{"distance":600}}"""),
        new("bad parameter", HttpMethod.Post, "/api/drone/execute", """{"action":"move_up","parameters":{"distance":"far"}}"""),
        new("unknown action", HttpMethod.Post, "/api/drone/execute", """{"action":"barrel_roll"}"""),
        new("not json", HttpMethod.Post, "/api/drone/execute", "{nope"),
        new("no action", HttpMethod.Post, "/api/drone/execute", """{"parameters":{}}"""),
        new("wrong content type", HttpMethod.Post, "/api/drone/execute", "action=land", "application/x-www-form-urlencoded"),
        new("land", HttpMethod.Post, "/api/drone/execute", """{"action":"land"}"""),
        new("release_control", HttpMethod.Post, "/api/drone/execute", """{"action":"release_control"}"""),
        new("telemetry after the flight", HttpMethod.Get, "/api/telemetry?limit=50"),
        new("buffer after the flight", HttpMethod.Get, "/api/buffer"),
    ];

    private sealed record Answer(HttpStatusCode Status, string? MediaType, string Body);

    [Fact]
    public async Task The_published_build_answers_every_documented_endpoint_with_the_status_and_body_shape_of_the_JIT_build()
    {
        var binary = PublishedBinary();
        using var jitDir = new TempDir();
        using var otherDir = new TempDir();
        await using var jit = await Start(null, jitDir.Path);
        await using var other = await Start(binary, otherDir.Path);

        var differences = new List<string>();
        foreach (var probe in Probes)
        {
            var expected = await Send(jit.Http, probe);
            var actual = await Send(other.Http, probe);
            output.WriteLine($"{probe.Name}: {(int)expected.Status} / {(int)actual.Status}");
            differences.AddRange(CompareAnswers(probe.Name, expected, actual));
        }

        var jitMetrics = await Send(jit.Http, new Probe("metrics", HttpMethod.Get, "/metrics"));
        var otherMetrics = await Send(other.Http, new Probe("metrics", HttpMethod.Get, "/metrics"));
        differences.AddRange(CompareMetrics(jitMetrics, otherMetrics));

        var console = new Probe("console page", HttpMethod.Get, "/");
        var jitConsole = await Send(jit.Http, console);
        var otherConsole = await Send(other.Http, console);
        if (jitConsole.Status != otherConsole.Status || jitConsole.MediaType != otherConsole.MediaType || jitConsole.Body != otherConsole.Body)
        {
            differences.Add($"console page: {(int)jitConsole.Status} {jitConsole.MediaType} ({jitConsole.Body.Length} chars) in the JIT build, "
                + $"{(int)otherConsole.Status} {otherConsole.MediaType} ({otherConsole.Body.Length} chars) in the other");
        }

        Assert.True(differences.Count == 0, $"{binary} differs from the JIT build:\n" + string.Join('\n', differences)
            + "\n--- JIT output ---\n" + jit.Process.Output + "\n--- other output ---\n" + other.Process.Output);
    }

    [Fact]
    public async Task The_published_build_sends_websocket_frames_of_the_shape_the_JIT_build_sends()
    {
        var binary = PublishedBinary();
        using var jitDir = new TempDir();
        using var otherDir = new TempDir();
        await using var jit = await Start(null, jitDir.Path);
        await using var other = await Start(binary, otherDir.Path);

        var jitFrames = await WebSocketSession(jit.Port);
        var otherFrames = await WebSocketSession(other.Port);

        var differences = new List<string>();
        foreach (var (step, expected) in jitFrames)
        {
            if (!otherFrames.TryGetValue(step, out var actual))
            {
                differences.Add($"{step}: no such frame from the other build");
                continue;
            }

            using var e = JsonDocument.Parse(expected);
            using var a = JsonDocument.Parse(actual);
            differences.AddRange(JsonShape.Differences(e.RootElement, a.RootElement).Select(d => $"{step}: {d}"));
        }

        Assert.True(differences.Count == 0, $"{binary} differs from the JIT build on /ws:\n" + string.Join('\n', differences)
            + "\n--- JIT frames ---\n" + string.Join('\n', jitFrames.Values) + "\n--- other frames ---\n" + string.Join('\n', otherFrames.Values));
    }

    [Theory]
    [InlineData("--Drones:CommandPort=70000")]
    [InlineData("--Drones:StatePort=abc")]
    [InlineData("--Drones:Items:0:Address=not-an-address")]
    [InlineData("--Buffer:MaxBytes=-5")]
    [InlineData("--Buffer:IntakeFullPolicy=Sometimes")]
    [InlineData("--Drones:LostAfter=later")]
    [InlineData("--LocalApi:Limits:MaxHttpBodyBytes=lots")]
    public async Task The_published_build_rejects_a_bad_configuration_value_with_the_JIT_build_s_exit_code_and_message(string arg)
    {
        // Options are bound by the configuration binding generator: a type or key it does not cover would bind
        // nothing (or report differently) in the published build only.
        var binary = PublishedBinary();
        using var jitDir = new TempDir();
        using var otherDir = new TempDir();
        string[] Args(string dir) => ["--data-dir", dir, "--urls", $"http://127.0.0.1:{FreePort.Tcp()}", arg];

        await using var jit = GatewayProcess.Start(Args(jitDir.Path));
        await using var other = GatewayProcess.Start(Args(otherDir.Path), executable: binary);
        var jitExit = await jit.WaitForExitAsync(StartLimit);
        var otherExit = await other.WaitForExitAsync(StartLimit);

        Assert.Equal(78, jitExit);
        Assert.True(otherExit == jitExit, $"exit {otherExit} (JIT: {jitExit})\n{other.Output}");
        Assert.Equal(ProblemLines(jit.Output), ProblemLines(other.Output));
    }

    /// <summary>The lines that name configuration problems (the log lines around them carry times and pids).</summary>
    private static string[] ProblemLines(string output) =>
        [.. output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains(':', StringComparison.Ordinal) && !l.Contains("info:", StringComparison.Ordinal)
            && (l.StartsWith("edge-gateway", StringComparison.Ordinal) || l.StartsWith("- ", StringComparison.Ordinal)
                || l.Contains("invalid configuration", StringComparison.Ordinal)))];

    private static List<string> CompareAnswers(string name, Answer expected, Answer actual)
    {
        var differences = new List<string>();
        if (expected.Status != actual.Status)
        {
            differences.Add($"{name}: status {(int)expected.Status} in the JIT build, {(int)actual.Status} in the other ({Trim(actual.Body)})");
        }

        if (expected.MediaType != actual.MediaType)
        {
            differences.Add($"{name}: content type {expected.MediaType} in the JIT build, {actual.MediaType} in the other");
        }

        if (expected.MediaType == "application/json")
        {
            if (!TryParse(expected.Body, out var e))
            {
                differences.Add($"{name}: the JIT build's body is not JSON: {Trim(expected.Body)}");
                return differences;
            }

            using (e)
            {
                if (!TryParse(actual.Body, out var a))
                {
                    differences.Add($"{name}: the other build's body is not JSON: {Trim(actual.Body)}");
                    return differences;
                }

                using (a)
                {
                    differences.AddRange(JsonShape.Differences(e.RootElement, a.RootElement).Select(d => $"{name}: {d}"));
                }
            }
        }

        return differences;
    }

    /// <summary>/metrics: same status and type, and the same gateway metric families (edge_*) after the same requests.</summary>
    private static List<string> CompareMetrics(Answer expected, Answer actual)
    {
        var differences = new List<string>();
        if (expected.Status != actual.Status || expected.MediaType != actual.MediaType)
        {
            differences.Add($"metrics: {(int)expected.Status} {expected.MediaType} in the JIT build, {(int)actual.Status} {actual.MediaType} in the other");
            return differences;
        }

        static HashSet<string> Families(string body) =>
        [
            .. body.Split('\n').Where(l => l.StartsWith("# TYPE edge_", StringComparison.Ordinal))
                .Select(l => string.Join(' ', l.Split(' ').Skip(2).Take(2))),
        ];

        var left = Families(expected.Body);
        var right = Families(actual.Body);
        if (left.Count == 0)
        {
            differences.Add("metrics: the JIT build exposes no edge_* family");
        }

        differences.AddRange(left.Except(right).Select(f => $"metrics: {f} missing in the other build"));
        differences.AddRange(right.Except(left).Select(f => $"metrics: {f} only in the other build"));
        return differences;
    }

    private static bool TryParse(string body, out JsonDocument document)
    {
        try
        {
            document = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException)
        {
            document = null!;
            return false;
        }
    }

    private static string Trim(string s) => s.Length <= 300 ? s : s[..300] + "…";

    private static async Task<Answer> Send(HttpClient http, Probe probe)
    {
        using var request = new HttpRequestMessage(probe.Method, probe.Path);
        if (probe.JsonBody is { } body)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = probe.ContentType is null ? null : new System.Net.Http.Headers.MediaTypeHeaderValue(probe.ContentType);
        }

        using var response = await http.SendAsync(request).WithTimeout(TimeSpan.FromSeconds(60));
        var text = await response.Content.ReadAsStringAsync().WithTimeout(TimeSpan.FromSeconds(60));
        return new Answer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, text);
    }

    /// <summary>
    /// One scripted session: the greeting, a subscription to status_updates with its current status and a live update,
    /// a ping, a command, an unknown type, a frame that is not JSON. The last frame of each kind, by step.
    /// </summary>
    private static async Task<Dictionary<string, string>> WebSocketSession(int port)
    {
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), CancellationToken.None).WithTimeout(TimeSpan.FromSeconds(30));
        var session = new FrameLog(ws);
        var frames = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["greeting"] = await session.Next("connection_established"),
        };
        await SendText(ws, """{"type":"subscribe","channel":"status_updates","request_id":"s-1"}""");
        frames["subscribed"] = await session.Next("subscribed");
        frames["status_update"] = await session.Next("status_update");
        await SendText(ws, """{"type":"subscribe","channel":"events"}""");
        frames["subscribed events"] = await session.Next("subscribed");
        await SendText(ws, """{"type":"ping","timestamp":12.5}""");
        frames["pong"] = await session.Next("pong");
        await SendText(ws, """{"type":"command","request_id":"c-1","action":"get_battery"}""");
        frames["command_result"] = await session.Next("command_result");
        // The audit event may come before or after the result.
        frames["command event"] = await session.Any("event:command");
        await SendText(ws, """{"type":"command","request_id":"c-2","action":"move_up","parameters":{"distance":600}}""");
        frames["command_result, out of range"] = await session.Next("command_result");
        await SendText(ws, """{"type":"take_control","request_id":"t-1"}""");
        frames["control_granted"] = await session.Next("control_granted");
        await SendText(ws, """{"type":"release_control","request_id":"t-2"}""");
        frames["control_released"] = await session.Next("control_released");
        await SendText(ws, """{"type":"barrel_roll"}""");
        frames["error, unknown type"] = await session.Next("error");
        await SendText(ws, "{nope");
        frames["error, not json"] = await session.Next("error");
        frames["status_update, live"] = await session.Next("status_update");
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).WithTimeout(TimeSpan.FromSeconds(30));
        return frames;
    }

    private static Task SendText(ClientWebSocket ws, string text) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).WithTimeout(TimeSpan.FromSeconds(30));

    /// <summary>Reads frames in order and remembers the first of each type, for frames whose order is not fixed.</summary>
    private sealed class FrameLog(ClientWebSocket ws)
    {
        private readonly Dictionary<string, string> _firstByType = new(StringComparer.Ordinal);
        private readonly byte[] _buffer = new byte[64 * 1024];

        /// <summary>The next frame of <paramref name="type"/> from now on.</summary>
        public async Task<string> Next(string type)
        {
            var deadline = Deadline.In(TimeSpan.FromSeconds(60));
            while (true)
            {
                var (frameType, text) = await Receive(type, deadline);
                if (frameType == type || (frameType == "event" && type.StartsWith("event:", StringComparison.Ordinal) && text.Contains($"\"event\":\"{type[6..]}\"", StringComparison.Ordinal)))
                {
                    return text;
                }
            }
        }

        /// <summary>The first frame of <paramref name="type"/> seen so far, or the next one.</summary>
        public Task<string> Any(string type) => _firstByType.TryGetValue(type, out var seen) ? Task.FromResult(seen) : Next(type);

        private async Task<(string? Type, string Text)> Receive(string waitingFor, Deadline deadline)
        {
            using var frame = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                Assert.False(deadline.Passed, $"no {waitingFor} frame within 60 s");
                result = await ws.ReceiveAsync(_buffer, CancellationToken.None).WithTimeout(deadline.Left);
                frame.Write(_buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            Assert.False(result.MessageType == WebSocketMessageType.Close, $"the server closed the socket while waiting for {waitingFor}");
            var text = Encoding.UTF8.GetString(frame.ToArray());
            using var doc = JsonDocument.Parse(text);
            var type = doc.RootElement.TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type == "event" && doc.RootElement.TryGetProperty("event", out var e))
            {
                // Events differ by name (link_up, command, ...): remembered as event:NAME.
                _firstByType.TryAdd("event:" + e.GetString(), text);
            }
            else if (type is not null)
            {
                _firstByType.TryAdd(type, text);
            }

            return (type, text);
        }
    }

    private sealed class RunningGateway(GatewayProcess process, int port) : IAsyncDisposable
    {
        public GatewayProcess Process { get; } = process;

        public int Port { get; } = port;

        public HttpClient Http { get; } = new() { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!Process.HasExited)
            {
                Process.Signal(GatewayProcess.SigTerm);
                await Process.WaitForExitAsync(TimeSpan.FromSeconds(60));
            }

            await Process.DisposeAsync();
        }
    }

    /// <summary>Starts one build in simulate mode and waits until its simulated drone is connected.</summary>
    private static async Task<RunningGateway> Start(string? binary, string dataDir)
    {
        var args = GatewayProcess.IsolatedSimulateArgs(dataDir, out var port, out _);
        var process = GatewayProcess.Start(args, executable: binary);
        var running = new RunningGateway(process, port);
        try
        {
            await TaskTimeouts.Eventually(() => Connected(running.Http), () => $"{binary ?? "the JIT build"} shows its simulated drone as connected\n{process.Output}",
                StartLimit);
            return running;
        }
        catch
        {
            await running.DisposeAsync();
            throw;
        }
    }

    private static bool Connected(HttpClient http)
    {
        try
        {
            using var response = http.GetAsync("/api/drone/status").GetAwaiter().GetResult();
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            using var doc = JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            return doc.RootElement.TryGetProperty("connected", out var c) && c.ValueKind == JsonValueKind.True;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return false;
        }
    }
}
