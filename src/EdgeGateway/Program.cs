using EdgeGateway;

return await GatewayHost.RunAsync(args).ConfigureAwait(false);
