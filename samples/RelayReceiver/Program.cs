// Reference receiver for the EdgeGateway WebSocket relay (docs/relay-protocol.md).
//   dotnet run --project samples/RelayReceiver -- --urls http://0.0.0.0:8080 --token s3cret [--no-ack] [--ack-delay 500]
// The gateway side: --upstream ws://s3cret@HOST:8080/relay (or Upstream:Relay in the config).
using EdgeGateway.Upstream.Relay;

var token = Arg("--token") ?? Environment.GetEnvironmentVariable("RELAY_TOKEN");
if (string.IsNullOrEmpty(token))
{
    Console.Error.WriteLine("usage: RelayReceiver --token TOKEN [--urls http://0.0.0.0:8080] [--no-ack] [--ack-delay MS]");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls(Arg("--urls") ?? "http://127.0.0.1:8080");
var app = builder.Build();
var receiver = new RelayReceiver(token, app.Logger)
{
    AcknowledgeEnabled = !args.Contains("--no-ack"),
    AckDelay = TimeSpan.FromMilliseconds(int.TryParse(Arg("--ack-delay"), out var ms) ? ms : 0),
    BatchReceived = batch =>
    {
        foreach (var r in batch)
        {
            Console.WriteLine($"{r.Id} {r.Stream} {r.Kind} {r.Time} {r.PayloadJson}");
        }
    },
};
app.UseWebSockets();
app.MapRelayReceiver("/relay", receiver);
app.Run();
return 0;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
