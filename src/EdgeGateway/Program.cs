using EdgeGateway;

try
{
    return await GatewayHost.RunAsync(args).ConfigureAwait(false);
}
catch (Exception ex)
{
    // Anything the start-up did not map to a code of its own: say what it was and exit 1 (README "exit codes"),
    // rather than an unhandled-exception abort (134) that systemd would report as a crash with a core dump.
    await Console.Error.WriteLineAsync($"edge-gateway: failed: {ex}").ConfigureAwait(false);
    return ExitCodes.Failure;
}
