using System.Text.Json;
using EdgeGateway.Records;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Sensors.Sources;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Sensors.Tests;

/// <summary>The sensors capability wired as the composition root would: AddSensors + a real RecordIntake.</summary>
internal sealed class SensorHost : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly List<IHostedService> _hosted;
    private readonly List<TelemetryRecord> _records = [];

    private SensorHost(ServiceProvider services, TestLoggerProvider logs)
    {
        _services = services;
        Logs = logs;
        _hosted = [.. services.GetServices<IHostedService>()];
    }

    public TestLoggerProvider Logs { get; }

    public ISensorRegistry Registry => _services.GetRequiredService<ISensorRegistry>();

    public RecordIntake Intake => _services.GetRequiredService<RecordIntake>();

    public IServiceProvider Services => _services;

    public static SensorsOptions Options(Dictionary<string, string?> settings)
    {
        var options = new SensorsOptions();
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection("Sensors").Bind(options);
        return options;
    }

    /// <param name="time">The clock of the sensors (staleness, health, rate limits); the system clock if null.</param>
    /// <param name="configure">Registrations made before AddSensors (an emulated I2C bus's opener).</param>
    public static async Task<SensorHost> StartAsync(ITestOutputHelper output, Dictionary<string, string?> settings, TimeProvider? time = null,
        Action<IServiceCollection>? configure = null)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var errors = Options(settings).Validate("Sensors").ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        var logs = new TestLoggerProvider(output);
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs));
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        configure?.Invoke(services);
        services.AddSingleton(new RecordIntake(100_000));
        services.AddSingleton<IRecordWriter>(sp => sp.GetRequiredService<RecordIntake>());
        services.AddSensors(config.GetSection("Sensors"));
        var provider = services.BuildServiceProvider();
        var host = new SensorHost(provider, logs);
        foreach (var h in host._hosted)
        {
            await h.StartAsync(CancellationToken.None).WithTimeout();
        }

        return host;
    }

    public SensorSnapshot Sensor(string id) => Registry.Find(id) ?? throw new InvalidOperationException("no sensor " + id);

    /// <summary>Every record taken in so far (drains the intake into a list this test keeps).</summary>
    public IReadOnlyList<TelemetryRecord> Records()
    {
        lock (_records)
        {
            while (Intake.Reader.TryRead(out var r))
            {
                _records.Add(r);
            }

            return [.. _records];
        }
    }

    public IReadOnlyList<JsonElement> Payloads(string stream)
        => [.. Records().Where(r => r.Stream == stream).Select(r => JsonDocument.Parse(r.Payload).RootElement)];

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosted)
        {
            await h.StopAsync(CancellationToken.None).WithTimeout();
        }

        await _services.DisposeAsync();
    }
}
