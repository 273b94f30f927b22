using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeGateway.Drones;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi.Commands;

/// <summary>A command from HTTP or the WebSocket.</summary>
internal readonly record struct CommandRequest(string? Action, JsonElement Parameters, string? DroneId);

/// <summary>What the client gets back. <see cref="Code"/> is null on success.</summary>
internal sealed record CommandReply(bool Success, string Message, string? Code, string? DroneId,
    IReadOnlyDictionary<string, object?>? Data)
{
    public static CommandReply Fail(string code, string message, string? droneId = null, IReadOnlyDictionary<string, object?>? data = null)
        => new(false, message, code, droneId, data);
}

/// <summary>Authorization, one-pilot control, battery check, execution on the link, audit.</summary>
internal sealed class CommandService
{
    private readonly IDroneFleet _fleet;
    private readonly PilotControl _control;
    private readonly LocalHub _hub;
    private readonly ILogger _logger;
    private readonly LocalApiMetrics _metrics;
    private readonly LocalApiCommandOptions _options;

    public CommandService(IDroneFleet fleet, PilotControl control, LocalHub hub, IOptions<LocalApiOptions> options,
        ILogger<CommandService> logger, LocalApiMetrics metrics)
    {
        _fleet = fleet;
        _control = control;
        _hub = hub;
        _logger = logger;
        _metrics = metrics;
        _options = options.Value.Commands;
    }

    public IDroneLink? Resolve(string? droneId)
        => string.IsNullOrEmpty(droneId) ? (_fleet.Drones.Count > 0 ? _fleet.Drones[0] : null) : _fleet.Find(droneId);

    public async Task<CommandReply> ExecuteAsync(CommandRequest request, ClientPrincipal who, bool onSocket, CancellationToken cancellationToken)
    {
        _control.Touch(who.Identity);
        if (string.IsNullOrWhiteSpace(request.Action))
        {
            return CommandReply.Fail(ApiErrors.InvalidRequest, "\"action\" is required (a string such as \"takeoff\")");
        }

        var name = DroneActions.Normalize(request.Action);
        if (DroneActions.Classify(name) is not { } kind)
        {
            return CommandReply.Fail(ApiErrors.UnknownAction,
                $"unknown action \"{Truncate(request.Action)}\"; known actions: {string.Join(", ", DroneActions.Names)}");
        }

        var link = Resolve(request.DroneId);
        if (link is null)
        {
            return CommandReply.Fail(ApiErrors.UnknownDrone, string.IsNullOrEmpty(request.DroneId)
                ? "no drone is configured"
                : $"unknown drone_id \"{Truncate(request.DroneId)}\"; known: {string.Join(", ", _fleet.Drones.Select(d => d.Id))}");
        }

        if (who.Role < kind.Role)
        {
            return Refused(name, link.Id, who, CommandReply.Fail(ApiErrors.Forbidden,
                $"{name} needs the {RoleNames.Name(kind.Role)} role; this client is {RoleNames.Name(who.Role)}", link.Id));
        }

        switch (kind.Kind)
        {
            case ActionKind.Status:
                return new CommandReply(true, "status", null, link.Id, StatusData(link));
            case ActionKind.TakeControl:
                return TakeControl(link.Id, who, onSocket);
            case ActionKind.ReleaseControl:
                return _control.Release(link.Id, who.Identity, "released by pilot")
                    ? new CommandReply(true, "control released", null, link.Id, new Dictionary<string, object?> { ["drone_id"] = link.Id })
                    : CommandReply.Fail(ApiErrors.NotControlling, "this client does not hold control of " + link.Id, link.Id);
        }

        var command = DroneActions.BuildCommand(name, request.Parameters, out var code, out var error);
        if (command is null)
        {
            return Refused(name, link.Id, who, CommandReply.Fail(code ?? ApiErrors.InvalidParameter, error ?? "invalid parameters", link.Id));
        }

        if (kind.Kind == ActionKind.Flight)
        {
            if (_control.TryTake(link.Id, who, onSocket, explicitTake: false, out var holder) == ControlDecision.Denied)
            {
                return Refused(name, link.Id, who, CommandReply.Fail(ApiErrors.ControlDenied,
                    $"{link.Id} is controlled by another pilot ({holder}); wait until it is released" +
                    (who.Role == ClientRole.Admin ? " or send take_control to take over" : ""), link.Id,
                    new Dictionary<string, object?> { ["holder"] = holder }));
            }

            if (name == "takeoff" && link.Status.Battery is { } battery && battery < _options.MinTakeoffBatteryPercent)
            {
                return Refused(name, link.Id, who, CommandReply.Fail(ApiErrors.BatteryTooLow,
                    $"takeoff refused: battery {battery}% is below the configured minimum of {_options.MinTakeoffBatteryPercent}%", link.Id,
                    new Dictionary<string, object?> { ["battery"] = battery, ["min_takeoff_battery"] = _options.MinTakeoffBatteryPercent }));
            }
        }

        return await RunAsync(name, command, link, who, cancellationToken).ConfigureAwait(false);
    }

    private CommandReply TakeControl(string droneId, ClientPrincipal who, bool onSocket)
    {
        var decision = _control.TryTake(droneId, who, onSocket, explicitTake: true, out var holder);
        return decision == ControlDecision.Denied
            ? CommandReply.Fail(ApiErrors.ControlDenied, $"{droneId} is controlled by another pilot ({holder})", droneId,
                new Dictionary<string, object?> { ["holder"] = holder })
            : new CommandReply(true, "control granted", null, droneId, new Dictionary<string, object?> { ["drone_id"] = droneId, ["holder"] = who.Identity });
    }

    private async Task<CommandReply> RunAsync(string name, TelloCommand command, IDroneLink link, ClientPrincipal who, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        DroneCommandResult result;
        try
        {
            // Emergency must not be cancelled by a client going away.
            // The origin goes into the drone link's command audit record: who asked, over which role.
            result = await link.ExecuteAsync(command, $"local-api:{who.Identity}",
                command.Kind == TelloCommandKind.Emergency ? CancellationToken.None : cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            result = new DroneCommandResult(DroneCommandOutcome.Aborted, null, null, Stopwatch.GetElapsedTime(started));
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var outcome = result.Outcome switch
        {
            DroneCommandOutcome.Ok or DroneCommandOutcome.SentNoReply => null,
            DroneCommandOutcome.DroneError => ApiErrors.DroneError,
            DroneCommandOutcome.Timeout => ApiErrors.DroneTimeout,
            DroneCommandOutcome.LinkDown => ApiErrors.DroneUnavailable,
            DroneCommandOutcome.Busy => ApiErrors.DroneBusy,
            _ => ApiErrors.Aborted,
        };
        var tags = new TagList { { "action", name }, { "outcome", outcome ?? "ok" } };
        _metrics.CommandLatency.Record(elapsed.TotalSeconds, tags);
        _metrics.Commands.Add(1, tags);
        _logger.CommandExecuted(name, link.Id, who.Identity, outcome ?? "ok", elapsed.TotalMilliseconds);
        _hub.PublishEvent(link.Id, "command", ("action", name), ("command", command.Text), ("by", who.Identity), ("role", RoleNames.Name(who.Role)),
            ("outcome", outcome ?? "ok"), ("reply", result.Reply), ("latency_ms", Math.Round(elapsed.TotalMilliseconds, 1)));

        var data = new Dictionary<string, object?>
        {
            ["drone_id"] = link.Id,
            ["command"] = command.Text,
            ["reply"] = result.Reply,
            ["latency_ms"] = Math.Round(result.Latency.TotalMilliseconds, 1),
        };
        if (result.Values is { } values)
        {
            foreach (var (k, v) in values)
            {
                data[k] = v;
            }
        }

        if (outcome is null)
        {
            return new CommandReply(true, $"{name}: {result.Reply ?? "sent"}", null, link.Id, data);
        }

        var message = outcome switch
        {
            ApiErrors.DroneError => $"{name}: the drone replied \"{result.Reply}\"",
            ApiErrors.DroneTimeout => $"{name}: no reply from the drone within the timeout (the command may have run)",
            ApiErrors.DroneUnavailable => $"{name}: the drone link is down; nothing was sent",
            ApiErrors.DroneBusy => $"{name}: the drone's command queue is full; nothing was sent",
            _ => $"{name}: aborted before a reply",
        };
        return CommandReply.Fail(outcome, message, link.Id, data);
    }

    private CommandReply Refused(string action, string droneId, ClientPrincipal who, CommandReply reply)
    {
        _logger.CommandRefused(action, droneId, who.Identity, reply.Code ?? "");
        _metrics.Commands.Add(1, new TagList { { "action", action }, { "outcome", reply.Code } });
        _hub.PublishEvent(droneId, "command", ("action", action), ("by", who.Identity), ("role", RoleNames.Name(who.Role)),
            ("outcome", reply.Code), ("reply", null), ("latency_ms", 0.0));
        return reply;
    }

    private static Dictionary<string, object?> StatusData(IDroneLink link)
    {
        var s = link.Status;
        return new Dictionary<string, object?>
        {
            ["drone_id"] = s.DroneId,
            ["connected"] = s.Connected,
            ["battery"] = s.Battery,
            ["is_flying"] = s.IsFlying,
            ["height_cm"] = s.State?.HeightCm,
            ["last_update"] = s.LastStateAt?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        };
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
