// Soak run: see scripts/soak.sh and docs/reliability.md.
//   dotnet bench/EdgeGateway.Soak/bin/Release/net10.0/EdgeGateway.Soak.dll --minutes 30 [--clients 200] [--seed N] [--work DIR]
// The seed also comes from EDGEGW_SOAK_SEED (replay a run's fault schedule); it is printed at start.
using EdgeGateway.Soak;

var options = SoakOptions.Parse(args, Environment.GetEnvironmentVariable("EDGEGW_SOAK_SEED"));
if (options is null)
{
    Console.Error.WriteLine("usage: EdgeGateway.Soak --minutes M [--clients N] [--seed S] [--work DIR] [--fault-every SECONDS]");
    return 2;
}

var result = await SoakRun.RunAsync(options, Console.Out);
return result.Passed ? 0 : 1;
