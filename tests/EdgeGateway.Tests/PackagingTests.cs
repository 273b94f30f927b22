using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace EdgeGateway.Tests;

/// <summary>
/// The files the Debian package installs, checked by the tools that read them on a device: systemd-analyze for the
/// unit (and its JIT drop-in), avahi's DTD for the service advertisement. The installed package itself is checked by
/// scripts/release-check.sh (dpkg -i, a run as the service user, dpkg --purge).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class PackagingTests : IDisposable
{
    private const double MaxExposure = 2.0;
    private const string AvahiDtd = "/usr/share/avahi/avahi-service.dtd";
    private readonly TempDir _work = new("eg-packaging-");

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task Shipped_unit_scores_at_most_2_0_in_systemd_analyze_security()
    {
        var unit = Path.Combine(PublishTests.RepositoryRoot(), "systemd", "edge-gateway.service");
        var exposure = await Exposure(unit);
        Assert.True(exposure <= MaxExposure, $"systemd-analyze security scores the unit {exposure}, above {MaxExposure}");
    }

    [Fact]
    public async Task Unit_with_the_jit_drop_in_still_scores_at_most_2_0()
    {
        var unit = InstallUnit(withJitDropIn: true);
        var exposure = await Exposure(unit);
        Assert.True(exposure <= MaxExposure, $"with MemoryDenyWriteExecute=no the unit scores {exposure}, above {MaxExposure}");
    }

    [Fact]
    public async Task Exposure_check_fails_a_unit_without_the_hardening()
    {
        // The same unit cut off before its hardening section: the check above must be able to fail.
        var text = await File.ReadAllTextAsync(Path.Combine(PublishTests.RepositoryRoot(), "systemd", "edge-gateway.service"));
        var cut = text[..text.IndexOf("# Hardening", StringComparison.Ordinal)];
        var unit = Path.Combine(_work.Path, "edge-gateway.service");
        await File.WriteAllTextAsync(unit, cut + "\n[Install]\nWantedBy=multi-user.target\n");
        Assert.True(await Exposure(unit) > MaxExposure, "a unit without hardening scores above the limit");
    }

    [Fact]
    public async Task Shipped_unit_and_jit_drop_in_pass_systemd_analyze_verify()
    {
        var unit = InstallUnit(withJitDropIn: true);
        var (exit, stdout, stderr) = await Run("systemd-analyze", "verify", unit);
        // verify exits 0 on settings it ignores; any line it prints is a problem in the unit.
        Assert.True(exit == 0 && stdout.Trim().Length == 0 && stderr.Trim().Length == 0,
            $"systemd-analyze verify (exit {exit}):\n{stdout}\n{stderr}");
    }

    [Fact]
    public async Task Verify_reports_a_misspelt_setting()
    {
        var unit = InstallUnit(withJitDropIn: false);
        await File.AppendAllTextAsync(unit, "\n[Service]\nMemoryDenyWriteExecut=yes\n");
        var (_, stdout, stderr) = await Run("systemd-analyze", "verify", unit);
        Assert.Contains("MemoryDenyWriteExecut", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Avahi_service_file_is_valid_per_avahis_dtd_and_advertises_console_and_api_on_the_local_port()
    {
        var file = Path.Combine(PublishTests.RepositoryRoot(), "packaging", "avahi", "edge-gateway.service");
        var problems = ValidateAgainstAvahiDtd(file);
        Assert.True(problems.Count == 0, string.Join('\n', problems));

        var services = XDocument.Load(file).Root!.Elements("service").ToDictionary(s => (string)s.Element("type")!);
        Assert.Equal(["_edge-gateway._tcp", "_http._tcp"], services.Keys.Order(StringComparer.Ordinal));
        var port = LocalApiPort();
        Assert.All(services.Values, s => Assert.Equal(port, (int)s.Element("port")!));
        var txt = services["_edge-gateway._tcp"].Elements("txt-record").Select(t => t.Value).ToList();
        // build-deb.sh replaces the placeholder with the package version.
        Assert.Contains("version=@VERSION@", txt);
    }

    [Fact]
    public async Task Avahi_validation_rejects_an_element_the_dtd_does_not_know()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(PublishTests.RepositoryRoot(), "packaging", "avahi", "edge-gateway.service"));
        var broken = Path.Combine(_work.Path, "broken.service");
        await File.WriteAllTextAsync(broken, text.Replace("<port>3002</port>", "<port>3002</port><weight>1</weight>", StringComparison.Ordinal));
        Assert.Contains(ValidateAgainstAvahiDtd(broken), p => p.Contains("weight", StringComparison.Ordinal));
    }

    /// <summary>The unit copied with ExecStart on an executable that exists (verify checks it), plus the drop-in.</summary>
    private string InstallUnit(bool withJitDropIn)
    {
        var repo = PublishTests.RepositoryRoot();
        var binary = Path.Combine(_work.Path, "edge-gateway");
        File.WriteAllText(binary, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var text = File.ReadAllText(Path.Combine(repo, "systemd", "edge-gateway.service"));
        Assert.Contains("ExecStart=/usr/lib/edge-gateway/edge-gateway ", text, StringComparison.Ordinal);
        var unit = Path.Combine(_work.Path, "edge-gateway.service");
        File.WriteAllText(unit, text.Replace("ExecStart=/usr/lib/edge-gateway/edge-gateway ", $"ExecStart={binary} ", StringComparison.Ordinal));
        if (withJitDropIn)
        {
            var dropIns = Directory.CreateDirectory(Path.Combine(_work.Path, "edge-gateway.service.d")).FullName;
            File.Copy(Path.Combine(repo, "packaging", "systemd-jit.conf"), Path.Combine(dropIns, "jit.conf"));
        }

        return unit;
    }

    private static async Task<double> Exposure(string unit)
    {
        var (_, stdout, stderr) = await Run("systemd-analyze", "security", "--offline=true", "--no-pager", unit);
        var match = OverallExposure().Match(stdout);
        Assert.True(match.Success, $"no overall exposure in the output of systemd-analyze security:\n{stdout}\n{stderr}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static List<string> ValidateAgainstAvahiDtd(string file)
    {
        Assert.True(File.Exists(AvahiDtd), $"{AvahiDtd} comes with avahi-daemon (a peer in scripts/test.sh)");
        var problems = new List<string>();
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Parse,
            ValidationType = ValidationType.DTD,
            // The file names "avahi-service.dtd" as avahi-daemon resolves it: from avahi's own directory.
            XmlResolver = new AvahiDtdResolver(),
        };
        settings.ValidationEventHandler += (_, e) => problems.Add($"{e.Severity}: {e.Message} (line {e.Exception?.LineNumber})");
        using (var reader = XmlReader.Create(file, settings))
        {
            while (reader.Read())
            {
            }
        }

        return problems;
    }

    private static int LocalApiPort()
    {
        var config = File.ReadAllText(Path.Combine(PublishTests.RepositoryRoot(), "config", "appsettings.json"));
        return int.Parse(UrlsPort().Match(config).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["SYSTEMD_COLORS"] = "0";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WithTimeout(TimeSpan.FromMinutes(2), $"{file} {string.Join(' ', args)} finishes");
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"Overall exposure level for \S+: ([0-9]+\.[0-9]+)")]
    private static partial Regex OverallExposure();

    [GeneratedRegex(@"""Urls"":\s*""[^""]*:([0-9]+)""")]
    private static partial Regex UrlsPort();

    private sealed class AvahiDtdResolver : XmlUrlResolver
    {
        public override object? GetEntity(Uri absoluteUri, string? role, Type? ofObjectToReturn) =>
            absoluteUri.AbsolutePath.EndsWith("/avahi-service.dtd", StringComparison.Ordinal)
                ? File.OpenRead(AvahiDtd)
                : base.GetEntity(absoluteUri, role, ofObjectToReturn);
    }
}
