using EdgeGateway.Fuzz;
using SharpFuzz;

// Usage:
//   EdgeGateway.Fuzz <target>          under afl-fuzz (SharpFuzz forkserver; input on stdin/file as afl passes it)
//   EdgeGateway.Fuzz <target> <file>…  replay inputs once each (reproduce a crash; exit 1 if one fails)
//   EdgeGateway.Fuzz --list
const int MaxInputBytes = 1024 * 1024;

if (args.Length == 0 || args[0] is "--list" or "-h" or "--help")
{
    Console.WriteLine("targets: " + string.Join(", ", FuzzTargets.All.Select(t => t.Name)));
    return args.Length == 0 ? 2 : 0;
}

var target = FuzzTargets.Find(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"unknown target \"{args[0]}\"; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}

if (args.Length > 1)
{
    var failed = 0;
    foreach (var file in args.Skip(1))
    {
        try
        {
            target.Run(File.ReadAllBytes(file));
            Console.WriteLine($"ok      {file}");
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine($"CRASH   {file}");
            Console.WriteLine(e);
        }
    }

    return failed == 0 ? 0 : 1;
}

// Persistent mode: one process runs many inputs, so every harness builds its parser state afresh per input.
Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    var buffer = new byte[64 * 1024];
    int n;
    while ((n = stream.Read(buffer, 0, buffer.Length)) > 0 && copy.Length < MaxInputBytes)
    {
        copy.Write(buffer, 0, n);
    }

    target.Run(copy.GetBuffer().AsSpan(0, (int)Math.Min(copy.Length, MaxInputBytes)));
});
return 0;
