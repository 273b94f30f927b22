using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace EdgeGateway.Tests;

/// <summary>Secrets from files and systemd credentials on the real daemon; a secret on the command line is warned about.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SecretSourceTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eg-secrets-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_password_on_the_command_line_gets_a_start_up_warning_that_does_not_show_it()
    {
        using var broker = new TcpListener(IPAddress.Loopback, 0);
        broker.Start();
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_root, "data"), out _, out _);
        args.AddRange(["--upstream", $"mqtt://admin:CmdL1ne-Secret@127.0.0.1:{Port(broker)}", "--Upstream:Relay:Token=relay-Cmd-Secret"]);
        await using var gateway = GatewayProcess.Start(args);

        await TaskTimeouts.Eventually(() => gateway.Output.Contains("given on the command line", StringComparison.Ordinal),
            () => "the warning is logged\n" + gateway.Output, TimeSpan.FromSeconds(45));
        gateway.Signal(GatewayProcess.SigTerm);
        await gateway.WaitForExitAsync();

        Assert.Contains($"--upstream mqtt://***@127.0.0.1:{Port(broker)}", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("--Upstream:Relay:Token", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("CREDENTIALS_DIRECTORY", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("CmdL1ne-Secret", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("relay-Cmd-Secret", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Systemd_credentials_supply_the_upstream_password_and_the_local_api_tokens_without_a_warning()
    {
        var credentials = Directory.CreateDirectory(Path.Combine(_root, "credentials")).FullName;
        WriteCredential(Path.Combine(credentials, "upstream-password"), "Cr3d-Secret#/?@\n");
        WriteCredential(Path.Combine(credentials, "local-api-tokens"), "ops observer Cr3d-Token-77\n");
        using var broker = new TcpListener(IPAddress.Loopback, 0);
        broker.Start();
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_root, "data"), out var httpPort, out _);
        // Loopback is not trusted and anonymous clients are refused: only the credential's token gets in.
        args.AddRange(["--upstream", $"mqtt://admin@127.0.0.1:{Port(broker)}",
            "--LocalApi:Auth:TrustedNetworks:0=10.254.0.0/16", "--LocalApi:Auth:AnonymousRole=none", "--Logging:LogLevel:Default=Trace"]);
        await using var gateway = GatewayProcess.Start(args, new Dictionary<string, string> { ["CREDENTIALS_DIRECTORY"] = credentials });

        using var client = await broker.AcceptTcpClientAsync().WithTimeout(TimeSpan.FromSeconds(45));
        Assert.True(await ReadUntilAsync(client.GetStream(), Encoding.UTF8.GetBytes("Cr3d-Secret#/?@")), "the CONNECT carries the credential's password");
        client.Close();

        // The upstream connects from a hosted service that may run before Kestrel listens: wait for the API to answer.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(10) };
        HttpStatusCode? status = null;
        await TaskTimeouts.Eventually(() =>
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/drone/status");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "Cr3d-Token-77");
                using var response = http.Send(request);
                status = response.StatusCode;
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, () => "the local API answers\n" + gateway.Output, TimeSpan.FromSeconds(45));
        Assert.Equal(HttpStatusCode.OK, status);

        gateway.Signal(GatewayProcess.SigTerm);
        await gateway.WaitForExitAsync();
        Assert.DoesNotContain("given on the command line", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Cr3d-Secret", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Cr3d-Token-77", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_file_readable_by_others_stops_the_start_with_78_and_names_the_key_not_the_secret()
    {
        var file = Path.Combine(_root, "mqtt-password");
        await File.WriteAllTextAsync(file, "Fil3-Secret\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        await using var gateway = GatewayProcess.Start(["--data-dir", Path.Combine(_root, "data"), "--upstream", "mqtt://admin@127.0.0.1:1",
            $"--Upstream:Mqtt:PasswordFile={file}"]);

        Assert.Equal(78, await gateway.WaitForExitAsync());
        Assert.Contains("Upstream:Mqtt:PasswordFile: must be readable by the service user only", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Fil3-Secret", gateway.Output, StringComparison.Ordinal);
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    // As systemd makes them: owner read-only.
    private static void WriteCredential(string path, string text)
    {
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead);
    }

    private static async Task<bool> ReadUntilAsync(NetworkStream stream, byte[] wanted)
    {
        var buffer = new byte[1024];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read)).AsTask().WithTimeout();
            if (n == 0)
            {
                break;
            }

            read += n;
            if (buffer.AsSpan(0, read).IndexOf(wanted) >= 0)
            {
                return true;
            }
        }

        return false;
    }
}
