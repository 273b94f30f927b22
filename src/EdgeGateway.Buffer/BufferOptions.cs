using EdgeGateway.Options;
using EdgeGateway.Records;

namespace EdgeGateway.Buffer;

/// <summary>How hard a commit pushes the records to stable storage (SQLite <c>PRAGMA synchronous</c> in WAL mode).</summary>
public enum Durability
{
    /// <summary>WAL not fsynced per commit: survives a crash or kill -9, may lose the last commits on power loss.</summary>
    Normal = 1,
    /// <summary>WAL fsynced on every commit: survives power loss once the commit returned.</summary>
    Full = 2,
}

/// <summary>What the intake does when the writer falls behind and the bounded channel is full.</summary>
public enum IntakeFullPolicy
{
    /// <summary>Drop the oldest queued record to make room (the newest telemetry is worth more).</summary>
    DropOldest = 0,
    /// <summary>Drop the record being offered.</summary>
    DropNewest = 1,
}

/// <summary>Options bound from the <c>Buffer</c> section.</summary>
public sealed class BufferOptions : IValidatedOptions
{
    /// <summary>Directory of the store; the file is <see cref="FileName"/> inside it.</summary>
    public string DataDirectory { get; set; } = "data";

    public string FileName { get; set; } = "buffer.db";

    /// <summary>Upper bound for the store on disk (database + WAL).</summary>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Evict when the free space on the data volume drops below this.</summary>
    public long MinFreeDiskBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Records older than this (by their wall-clock time) are evicted.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Most records in one commit.</summary>
    public int BatchSize { get; set; } = 1024;

    /// <summary>Longest a record waits in the writer for companions before the commit.</summary>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    public int IntakeCapacity { get; set; } = 65536;

    public IntakeFullPolicy IntakeFullPolicy { get; set; } = IntakeFullPolicy.DropOldest;

    /// <summary>Durability per record kind; a batch is committed with the strongest level of any record in it.</summary>
    public Dictionary<RecordKind, Durability> Durability { get; set; } = new()
    {
        [RecordKind.DroneState] = Buffer.Durability.Normal,
        [RecordKind.SensorReading] = Buffer.Durability.Normal,
        [RecordKind.Event] = Buffer.Durability.Full,
        [RecordKind.CommandAudit] = Buffer.Durability.Full,
        [RecordKind.Gap] = Buffer.Durability.Full,
    };

    /// <summary>Time budget of the start-up integrity check (<c>PRAGMA quick_check</c>, interrupted after this).</summary>
    public TimeSpan IntegrityCheckTimeout { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>How often the writer checks budgets, free disk and age even when idle.</summary>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Per-sink forwarding settings, keyed by sink name; sinks not listed use the defaults.</summary>
    public Dictionary<string, SinkForwardingOptions> Sinks { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public string DatabasePath => Path.GetFullPath(Path.Combine(DataDirectory, FileName));

    public Durability DurabilityFor(RecordKind kind)
        => Durability.TryGetValue(kind, out var d) ? d : (kind is RecordKind.DroneState or RecordKind.SensorReading ? Buffer.Durability.Normal : Buffer.Durability.Full);

    public SinkForwardingOptions ForSink(string name) => Sinks.TryGetValue(name, out var o) ? o : new SinkForwardingOptions();

    public IEnumerable<string> Validate(string section)
    {
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            yield return $"{section}:DataDirectory: must be a directory path (got empty)";
        }

        if (string.IsNullOrWhiteSpace(FileName) || FileName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
        {
            yield return $"{section}:FileName: must be a plain file name (got \"{FileName}\")";
        }

        if (MaxBytes < 1024 * 1024)
        {
            yield return $"{section}:MaxBytes: must be at least 1048576 (1 MiB) (got {MaxBytes})";
        }

        if (MinFreeDiskBytes < 0)
        {
            yield return $"{section}:MinFreeDiskBytes: must be 0 or more (got {MinFreeDiskBytes})";
        }

        if (MaxAge <= TimeSpan.Zero)
        {
            yield return $"{section}:MaxAge: must be a positive time span, e.g. 7.00:00:00 (got {MaxAge})";
        }

        if (BatchSize is < 1 or > 100_000)
        {
            yield return $"{section}:BatchSize: must be 1..100000 (got {BatchSize})";
        }

        if (BatchInterval < TimeSpan.Zero || BatchInterval > TimeSpan.FromSeconds(5))
        {
            yield return $"{section}:BatchInterval: must be 00:00:00..00:00:05 (got {BatchInterval})";
        }

        if (IntakeCapacity is < 16 or > 10_000_000)
        {
            yield return $"{section}:IntakeCapacity: must be 16..10000000 (got {IntakeCapacity})";
        }

        if (!Enum.IsDefined(IntakeFullPolicy))
        {
            yield return $"{section}:IntakeFullPolicy: must be DropOldest or DropNewest (got {IntakeFullPolicy})";
        }

        foreach (var (kind, d) in Durability)
        {
            if (!Enum.IsDefined(kind) || !Enum.IsDefined(d))
            {
                yield return $"{section}:Durability:{kind}: must map DroneState|SensorReading|Event|CommandAudit|Gap to Normal or Full (got {d})";
            }
        }

        if (IntegrityCheckTimeout < TimeSpan.Zero || IntegrityCheckTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"{section}:IntegrityCheckTimeout: must be 00:00:00..00:05:00 (got {IntegrityCheckTimeout})";
        }

        if (MaintenanceInterval < TimeSpan.FromMilliseconds(50) || MaintenanceInterval > TimeSpan.FromMinutes(1))
        {
            yield return $"{section}:MaintenanceInterval: must be 00:00:00.050..00:01:00 (got {MaintenanceInterval})";
        }

        foreach (var (name, sink) in Sinks)
        {
            foreach (var problem in sink.Validate($"{section}:Sinks:{name}"))
            {
                yield return problem;
            }
        }
    }
}

/// <summary>How one upstream sink is fed from the buffer: window, replay governor, downsampling.</summary>
public sealed class SinkForwardingOptions
{
    /// <summary>Most records sent but not yet acknowledged.</summary>
    public int InflightWindow { get; set; } = 1000;

    /// <summary>Most records handed to the sink in one <c>SendAsync</c>.</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>Replay limit in records per second; 0 means unlimited.</summary>
    public double MaxRecordsPerSecond { get; set; } = 2000;

    /// <summary>Replay limit in payload bytes per second; 0 means unlimited.</summary>
    public double MaxBytesPerSecond { get; set; }

    /// <summary>Share (0..1) of sends given to live records ahead of the backlog while catching up; 0 keeps strict sequence order.</summary>
    public double LiveShare { get; set; }

    /// <summary>A backlog (in sequence numbers) above this at (re)connect switches to catch-up with live interleaving.</summary>
    public long CatchUpThreshold { get; set; } = 1000;

    /// <summary>Unacknowledged records older than this count as lost: the forwarder rewinds and resends.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Per-stream minimum interval upstream, keyed by a stream pattern where <c>*</c> matches one path
    /// segment (e.g. <c>drone/*/state</c> = <c>00:00:01</c>). Only drone state and sensor readings are downsampled.
    /// </summary>
    public Dictionary<string, TimeSpan> Downsample { get; set; } = new(StringComparer.Ordinal);

    public IEnumerable<string> Validate(string section)
    {
        if (InflightWindow is < 1 or > 1_000_000)
        {
            yield return $"{section}:InflightWindow: must be 1..1000000 (got {InflightWindow})";
        }

        if (BatchSize is < 1 or > 100_000)
        {
            yield return $"{section}:BatchSize: must be 1..100000 (got {BatchSize})";
        }

        if (MaxRecordsPerSecond < 0 || double.IsNaN(MaxRecordsPerSecond))
        {
            yield return $"{section}:MaxRecordsPerSecond: must be 0 (unlimited) or positive (got {MaxRecordsPerSecond})";
        }

        if (MaxBytesPerSecond < 0 || double.IsNaN(MaxBytesPerSecond))
        {
            yield return $"{section}:MaxBytesPerSecond: must be 0 (unlimited) or positive (got {MaxBytesPerSecond})";
        }

        if (LiveShare is < 0 or > 0.9 || double.IsNaN(LiveShare))
        {
            yield return $"{section}:LiveShare: must be 0..0.9 (got {LiveShare})";
        }

        if (CatchUpThreshold < 0)
        {
            yield return $"{section}:CatchUpThreshold: must be 0 or more (got {CatchUpThreshold})";
        }

        if (AckTimeout <= TimeSpan.Zero)
        {
            yield return $"{section}:AckTimeout: must be a positive time span (got {AckTimeout})";
        }

        if (RetryMinDelay <= TimeSpan.Zero || RetryMaxDelay < RetryMinDelay)
        {
            yield return $"{section}:RetryMinDelay/RetryMaxDelay: need 0 < RetryMinDelay <= RetryMaxDelay (got {RetryMinDelay}, {RetryMaxDelay})";
        }

        foreach (var (pattern, interval) in Downsample)
        {
            if (string.IsNullOrWhiteSpace(pattern) || interval <= TimeSpan.Zero)
            {
                yield return $"{section}:Downsample:{pattern}: must map a stream pattern to a positive interval (got {interval})";
            }
        }
    }
}
