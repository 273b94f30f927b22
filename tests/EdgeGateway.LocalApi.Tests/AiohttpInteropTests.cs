using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// The real peer: a Python aiohttp client that behaves like the agent backend (interop/agent_client.py) against the
/// gateway on a real Kestrel. Needs python3 with aiohttp; fails (never skips) with the install command when missing.
/// </summary>
public sealed class AiohttpInteropTests(ITestOutputHelper output)
{
    private const string InstallCommand = "apt-get install -y python3-aiohttp";

    [Fact]
    public async Task The_agent_backends_aiohttp_client_works_against_the_gateway_unchanged()
    {
        var python = await FindPythonWithAiohttpAsync();
        var fleet = new FakeDroneFleet(new FakeDroneLink("tello-1"));
        await using var host = await ApiHost.StartAsync(fleet, output);
        var script = Path.Combine(AppContext.BaseDirectory, "interop", "agent_client.py");
        Assert.True(File.Exists(script), $"{script} is not in the test output (see the csproj)");

        var (exit, stdout, stderr) = await RunAsync(python, [script, host.BaseAddress.ToString()], TimeSpan.FromSeconds(60));
        output.WriteLine($"agent_client.py exit {exit}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.True(exit == 0, $"agent_client.py failed ({exit}): {stderr}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var s = doc.RootElement;

        var health = s.GetProperty("health");
        Assert.True(health.GetProperty("healthy").GetBoolean());
        Assert.True(health.GetProperty("connected").GetBoolean());
        Assert.Equal(87, health.GetProperty("battery").GetInt32());

        var ok = s.GetProperty("execute_ok");
        Assert.Equal(200, ok.GetProperty("status").GetInt32());
        Assert.True(ok.GetProperty("body").GetProperty("success").GetBoolean());
        var fail = s.GetProperty("execute_fail");
        Assert.Equal(400, fail.GetProperty("status").GetInt32());
        Assert.Equal("application/json", fail.GetProperty("content_type").GetString());
        Assert.False(fail.GetProperty("body").GetProperty("success").GetBoolean());
        Assert.Contains("distance", fail.GetProperty("body").GetProperty("error").GetString());
        Assert.Equal(["takeoff"], fleet[0].Sent);

        Assert.Equal("connection_established", s.GetProperty("first_frame_type").GetString());
        var confirmation = s.GetProperty("confirmation");
        Assert.Equal("subscribed", confirmation.GetProperty("type").GetString());
        Assert.Equal("status_updates", confirmation.GetProperty("channel").GetString());
        var update = s.GetProperty("status_update");
        Assert.True(update.GetProperty("data_is_object").GetBoolean());
        Assert.True(update.GetProperty("connected").GetBoolean());
        Assert.Equal(87, update.GetProperty("battery").GetInt32());
        Assert.True(s.GetProperty("pong").GetProperty("timestamp_echoed").GetBoolean());
        var malformed = s.GetProperty("malformed");
        Assert.Equal("invalid_json", malformed.GetProperty("code").GetString());
        Assert.True(malformed.GetProperty("has_message").GetBoolean());
        Assert.False(malformed.GetProperty("closed").GetBoolean());
        Assert.Equal(1000, s.GetProperty("close_code").GetInt32());
    }

    /// <summary>
    /// <c>python3</c> on PATH, else the distribution's interpreter (where apt installs python3-aiohttp when PATH
    /// leads to another Python, e.g. pyenv); <c>EDGE_PYTHON</c> overrides both.
    /// </summary>
    private static async Task<string> FindPythonWithAiohttpAsync()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("EDGE_PYTHON") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        candidates.Add("python3");
        candidates.Add("/usr/bin/python3");
        var tried = new List<string>();
        foreach (var python in candidates)
        {
            try
            {
                var (exit, _, stderr) = await RunAsync(python, ["-c", "import aiohttp"], TimeSpan.FromSeconds(30));
                if (exit == 0)
                {
                    return python;
                }

                tried.Add($"{python}: {stderr.Trim().Split('\n')[^1]}");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                tried.Add($"{python}: {e.Message}");
            }
        }

        Assert.Fail($"python3 with aiohttp is required for this test. Install it with: {InstallCommand}\n(tried {string.Join("; ", tried)})");
        return "";
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WithTimeout(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
