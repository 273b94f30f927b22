using System.Text.Json;
using EdgeGateway.LocalApi.Commands;
using EdgeGateway.LocalApi.Hub;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>
/// A port-3002 client message (a WebSocket text frame or a <c>POST /api/drone/execute</c> body) into
/// <see cref="ClientMessageReader"/>, then, for a command, the action and parameters into
/// <see cref="DroneActions.BuildCommand"/> as <see cref="CommandService"/> does.
/// </summary>
public sealed class LocalApiMessageTarget : IFuzzTarget
{
    public string Name => "localapi";

    public void Run(ReadOnlySpan<byte> input)
    {
        var error = ClientMessageReader.TryRead(input, out var message, out var detail);
        Invariant.That(Enum.IsDefined(error), $"undefined error {error}");
        Invariant.That(error == ClientMessageError.None == message is not null, $"{error} with message {message is not null}");
        Invariant.That(error != ClientMessageError.InvalidJson || detail is not null, "InvalidJson without a reason");
        if (message is null)
        {
            return;
        }

        // The session echoes these into its reply: writing them must not fail either.
        using (var echo = new Utf8JsonWriter(Stream.Null))
        {
            echo.WriteStartArray();
            message.RequestId?.WriteTo(echo);
            message.Timestamp?.WriteTo(echo);
            echo.WriteEndArray();
        }

        if (message.MaxHz is { } hz && hz.ValueKind == JsonValueKind.Number && hz.TryGetDouble(out var v))
        {
            Invariant.Finite(v, "max_hz");
        }

        if (message.Action is not { } raw)
        {
            return;
        }

        var action = DroneActions.Normalize(raw);
        if (DroneActions.Classify(action) is null)
        {
            return;
        }

        var command = DroneActions.BuildCommand(action, message.Parameters, out var code, out var why);
        Invariant.That(command is null == code is not null, $"{action}: command {command is not null} with code {code}");
        Invariant.That(command is not null || why is not null || action is "get_status" or "take_control" or "release_control", $"{action}: refused without a reason");
        if (command is not null)
        {
            Invariant.That(command.Text.Length is > 0 and < 64 && !command.Text.Contains('\n', StringComparison.Ordinal), $"command text \"{command.Text}\"");
        }
    }
}
