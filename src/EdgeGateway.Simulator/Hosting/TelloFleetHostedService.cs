using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.Simulator;

/// <summary>Runs the simulated fleet inside the daemon when <c>Simulator:Enabled</c> is true; does nothing otherwise.</summary>
public sealed class TelloFleetHostedService(IOptions<SimulatorOptions> options, TimeProvider time, ILoggerFactory loggerFactory)
    : IHostedService, IAsyncDisposable
{
    private TelloFleetSimulator? _fleet;

    /// <summary>The running fleet, or null when disabled or not started.</summary>
    public TelloFleetSimulator? Fleet => _fleet;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Enabled)
        {
            return;
        }

        var fleet = new TelloFleetSimulator(o.ToTelloOptions(), o.Drones, time, loggerFactory);
        await fleet.StartAsync(cancellationToken).ConfigureAwait(false);
        _fleet = fleet;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        var fleet = Interlocked.Exchange(ref _fleet, null);
        if (fleet is not null)
        {
            await fleet.DisposeAsync().ConfigureAwait(false);
        }
    }
}
