namespace EdgeGateway.Options;

/// <summary>
/// Options that check themselves. The composition root validates every capability's options at
/// start and reports all errors together; a bad value stops the daemon with a non-zero exit code.
/// </summary>
public interface IValidatedOptions
{
    /// <summary>
    /// Returns one message per problem, each naming the full key and the allowed values, e.g.
    /// <c>Drones:Items:0:Address: must be HOST or HOST:PORT (got "x:y:z")</c>.
    /// <paramref name="section"/> is the configuration path of this options object (e.g. <c>Drones</c>).
    /// </summary>
    IEnumerable<string> Validate(string section);
}
