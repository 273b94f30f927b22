namespace EdgeGateway.Fuzz;

/// <summary>
/// One harness: feeds one input to one parser the way the gateway does. Documented rejections (a parse-failure
/// result, a drop counted by a framer) are fine and return normally; anything else — an exception the parser
/// does not document, or a result that breaks an invariant — escapes as an exception, which afl-fuzz records as a crash.
/// </summary>
public interface IFuzzTarget
{
    /// <summary>The name used on the command line and as the corpus folder (fuzz/corpus/&lt;name&gt;).</summary>
    string Name { get; }

    void Run(ReadOnlySpan<byte> input);
}

/// <summary>A parser accepted something it must not: a NaN coordinate, a negative length, a count over its bound.</summary>
public sealed class InvariantViolationException(string message) : Exception(message);

internal static class Invariant
{
    public static void That(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvariantViolationException(what);
        }
    }

    public static void Finite(double? value, string what) => That(value is null || double.IsFinite(value.Value), what + " is not finite");

    public static void InRange(double? value, double min, double max, string what)
    {
        Finite(value, what);
        That(value is null || (value >= min && value <= max), $"{what} {value} outside [{min}, {max}]");
    }
}
