using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace EdgeGateway.Tests;

/// <summary>
/// publish.sh builds a self-contained single file that runs on a machine with no .NET installed. This is the
/// ReadyToRun flavour, the one a build machine without the NativeAOT toolchain makes (and the fallback when an AOT
/// publish fails); the NativeAOT flavour takes minutes longer and is published, smoke-tested and compared with the
/// JIT build by scripts/release-check.sh.
/// </summary>
public sealed class PublishTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("eg-publish-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Published_linux_x64_ReadyToRun_single_file_starts_with_simulate_and_serves_the_drone()
    {
        var repo = RepositoryRoot();
        var outDir = Path.Combine(_work, "linux-x64");
        var publish = new ProcessStartInfo("bash", ["publish.sh", "linux-x64"])
        {
            WorkingDirectory = repo,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        publish.Environment["PUBLISH_OUT"] = outDir;
        publish.Environment["PUBLISH_FLAVOUR"] = "r2r";
        using (var p = Process.Start(publish)!)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync().WithTimeout(TimeSpan.FromMinutes(20));
            Assert.True(p.ExitCode == 0, $"publish.sh failed ({p.ExitCode}):\n{await stdout}\n{await stderr}");
            Assert.Contains("publish.sh: flavour: r2r", await stdout, StringComparison.Ordinal);
        }

        var binary = Path.Combine(outDir, "edge-gateway");
        Assert.True(File.Exists(binary), "the single-file binary exists");
        foreach (var shipped in new[] { "appsettings.json", "edge-gateway.service", "install.sh", "README.md" })
        {
            Assert.True(File.Exists(Path.Combine(outDir, shipped)), $"{shipped} ships with the release");
        }

        Assert.Empty(Directory.GetFiles(outDir, "*.dll"));
        Assert.True(File.Exists(Path.Combine(_work, "edge-gateway-linux-x64.tar.gz")));

        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_work, "data"), out var port, out _);
        // No DOTNET_ROOT: a self-contained binary must not need an installed runtime.
        await using var gateway = GatewayProcess.Start(args, new Dictionary<string, string> { ["DOTNET_ROOT"] = "/nonexistent" }, executable: binary);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await TaskTimeouts.Eventually(() =>
        {
            try
            {
                var status = http.GetFromJsonAsync<JsonElement>("/api/drone/status").WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
                return status.GetProperty("connected").GetBoolean() && status.GetProperty("battery").ValueKind == JsonValueKind.Number;
            }
            catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException)
            {
                return false;
            }
        }, () => "the published binary serves a connected simulated drone\n" + gateway.Output, TimeSpan.FromSeconds(60));

        gateway.Signal(GatewayProcess.SigTerm);
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeGateway.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("EdgeGateway.sln not found above " + AppContext.BaseDirectory);
    }
}
