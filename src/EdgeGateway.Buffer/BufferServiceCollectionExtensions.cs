using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Health;
using EdgeGateway.Options;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Buffer;

public static class BufferServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="BufferOptions"/> from <paramref name="section"/> (normally <c>Buffer</c>), validates it
    /// (throws with every problem listed), and registers <see cref="RecordBuffer"/> as <see cref="IRecordBuffer"/>
    /// and <see cref="IHealthReporter"/>, plus a hosted service that opens the store and runs one
    /// <see cref="UpstreamForwarder"/> per registered <see cref="IUpstreamSink"/>.
    /// </summary>
    public static IServiceCollection AddRecordBuffer(this IServiceCollection services, IConfiguration section)
    {
        var options = new BufferOptions();
        section.Bind(options);
        var path = section is IConfigurationSection s ? s.Path : "Buffer";
        var problems = options.Validate(path).ToList();
        if (problems.Count > 0)
        {
            throw new OptionsValidationFailedException(problems);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LoopHeartbeatRegistry>();
        services.AddSingleton(options);
        services.AddSingleton(sp => new RecordBuffer(options, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<RecordBuffer>>(), sp.GetService<LoopHeartbeatRegistry>(),
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton<IRecordBuffer>(sp => sp.GetRequiredService<RecordBuffer>());
        services.AddSingleton<IHealthReporter>(sp => sp.GetRequiredService<RecordBuffer>());
        services.AddHostedService<RecordBufferHostedService>();
        return services;
    }
}

/// <summary>Thrown by <see cref="BufferServiceCollectionExtensions.AddRecordBuffer"/> for a bad configuration.</summary>
public sealed class OptionsValidationFailedException(IReadOnlyList<string> problems)
    : Exception("Invalid configuration:\n" + string.Join("\n", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Opens the store at start (bounded time, never proportional to the backlog) and runs the forwarders.</summary>
internal sealed class RecordBufferHostedService(
    RecordBuffer buffer,
    IEnumerable<IUpstreamSink> sinks,
    TimeProvider time,
    ILoggerFactory loggers,
    LoopHeartbeatRegistry heartbeats) : IHostedService
{
    private readonly List<UpstreamForwarder> _forwarders = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        buffer.Start();
        foreach (var sink in sinks)
        {
            var forwarder = new UpstreamForwarder(buffer, sink, buffer.Options.ForSink(sink.Name), time,
                loggers.CreateLogger<UpstreamForwarder>(), heartbeats);
            forwarder.Start();
            _forwarders.Add(forwarder);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var f in _forwarders)
        {
            await f.DisposeAsync().ConfigureAwait(false);
        }

        await buffer.StopAsync().ConfigureAwait(false);
    }
}
