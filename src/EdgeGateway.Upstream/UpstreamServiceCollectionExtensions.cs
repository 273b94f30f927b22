using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Health;
using EdgeGateway.Upstream.Mqtt;
using EdgeGateway.Upstream.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Upstream;

public static class UpstreamServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="UpstreamOptions"/> from <paramref name="section"/> (normally <c>Upstream</c>), validates it (throws
    /// with every problem listed), and registers each enabled sink as <see cref="IUpstreamSink"/> (the buffer runs one
    /// forwarder per sink, each with its own cursor), an <see cref="IHealthReporter"/>, and a hosted service that starts
    /// the links and, at shutdown, publishes the MQTT <c>offline</c> status and disconnects cleanly.
    /// </summary>
    public static IServiceCollection AddUpstream(this IServiceCollection services, IConfiguration section)
    {
        var options = new UpstreamOptions();
        section.Bind(options);
        var path = section is IConfigurationSection s ? s.Path : "Upstream";
        var problems = options.Validate(path).ToList();
        if (problems.Count > 0)
        {
            throw new OptionsValidationFailedException(problems);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.TryAddSingleton(sp => new UpstreamMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetRequiredService<TimeProvider>()));
        var gatewayId = options.EffectiveGatewayId;
        if (options.Mqtt.Enabled)
        {
            // Next to the buffer unless configured: Buffer:DataDirectory when the buffer is registered, else "data".
            services.TryAddSingleton(sp => new DeadLetterStore(
                Path.Combine(options.DeadLetters.Directory is { Length: > 0 } d ? d : sp.GetService<BufferOptions>()?.DataDirectory ?? "data",
                    DeadLetterStore.FileName),
                options.DeadLetters.MaxRows, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<DeadLetterStore>(), $"{path}:DeadLetters:Directory"));
            services.AddSingleton(sp => new MqttSink(options.Mqtt, gatewayId, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<UpstreamMetrics>(), deadLetters: sp.GetRequiredService<DeadLetterStore>()));
            services.AddSingleton<IUpstreamSink>(sp => sp.GetRequiredService<MqttSink>());
            services.AddSingleton<IUpstreamLinkState>(sp => sp.GetRequiredService<MqttSink>());
        }

        if (options.Relay.Enabled)
        {
            services.AddSingleton(sp => new RelaySink(options.Relay, gatewayId, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<RelaySink>>(), sp.GetRequiredService<UpstreamMetrics>()));
            services.AddSingleton<IUpstreamSink>(sp => sp.GetRequiredService<RelaySink>());
            services.AddSingleton<IUpstreamLinkState>(sp => sp.GetRequiredService<RelaySink>());
        }

        services.AddSingleton<UpstreamHealth>();
        services.AddSingleton<IHealthReporter>(sp => sp.GetRequiredService<UpstreamHealth>());
        services.AddHostedService<UpstreamHostedService>();
        return services;
    }
}

/// <summary>
/// One health entry per enabled sink: Healthy while connected and carrying records; Degraded while reconnecting (records
/// wait in the buffer), while the broker refuses the link's QoS, or for <see cref="EvictionWindow"/> after the dead-letter
/// table dropped rows.
/// </summary>
public sealed class UpstreamHealth : IHealthReporter
{
    /// <summary>How long health stays Degraded after the dead-letter table evicted rows.</summary>
    public static readonly TimeSpan EvictionWindow = TimeSpan.FromHours(1);

    private readonly IEnumerable<IUpstreamLinkState> _links;
    private readonly TimeProvider _time;
    private readonly DeadLetterStore? _deadLetters;
    private readonly Lock _gate = new();
    private long _evictedSeen;
    private DateTimeOffset? _evictedAt;

    public UpstreamHealth(IEnumerable<IUpstreamLinkState> links, TimeProvider time, DeadLetterStore? deadLetters = null)
    {
        _links = links;
        _time = time;
        _deadLetters = deadLetters;
        // Evictions from before this start were reported then; only new ones degrade health.
        _evictedSeen = deadLetters?.Evicted ?? 0;
    }

    public IEnumerable<ComponentHealth> Report()
    {
        var now = _time.GetUtcNow();
        string? evictedNote = null;
        if (_deadLetters is not null)
        {
            var evicted = _deadLetters.Evicted;
            lock (_gate)
            {
                if (evicted > _evictedSeen)
                {
                    _evictedSeen = evicted;
                    _evictedAt = now;
                }

                if (_evictedAt is { } at && now - at < EvictionWindow)
                {
                    evictedNote = $"the dead-letter table is full and dropped its oldest rows ({evicted} evicted in all); "
                        + "raise Upstream:DeadLetters:MaxRows or read them out";
                }
            }
        }

        foreach (var l in _links)
        {
            var lag = l.OldestUnacknowledged is { } t ? Math.Max(0, (now - t).TotalSeconds) : 0;
            var details = new Dictionary<string, object?>
            {
                ["transport"] = l.Transport,
                ["connected"] = l.IsConnected,
                ["inflight"] = l.Inflight,
                ["acknowledged"] = l.Acknowledged,
                ["reconnects"] = l.Reconnects,
                ["lag_seconds"] = Math.Round(lag, 1),
                ["dead_lettered"] = l.DeadLettered,
                ["dead_letter_rows"] = l.DeadLetterRows,
            };
            if (_deadLetters is not null)
            {
                details["dead_letters_evicted"] = _deadLetters.Evicted;
            }

            if (!l.IsConnected)
            {
                details["last_error"] = l.LastError;
                yield return new ComponentHealth($"upstream/{l.Name}", HealthState.Degraded,
                    $"not connected ({l.LastError ?? "connecting"}); records wait in the buffer", details);
            }
            else if (l.Refusal is { } refusal)
            {
                details["refusal"] = refusal;
                yield return new ComponentHealth($"upstream/{l.Name}", HealthState.Degraded, $"connected but {refusal}", details);
            }
            else if (evictedNote is not null && l.Transport == "mqtt") // the table holds only the MQTT sink's rows
            {
                yield return new ComponentHealth($"upstream/{l.Name}", HealthState.Degraded, "connected; " + evictedNote, details);
            }
            else
            {
                yield return new ComponentHealth($"upstream/{l.Name}", HealthState.Healthy, "connected", details);
            }
        }
    }
}

/// <summary>Starts the sinks' connection loops and stops them (MQTT: retained offline, clean DISCONNECT).</summary>
internal sealed class UpstreamHostedService(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetService<MqttSink>()?.Start();
        services.GetService<RelaySink>()?.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<MqttSink>() is { } mqtt)
        {
            await mqtt.StopAsync().ConfigureAwait(false);
        }

        if (services.GetService<RelaySink>() is { } relay)
        {
            await relay.StopAsync().ConfigureAwait(false);
        }
    }
}
