using System.Text;
using System.Text.Json;

namespace EdgeGateway.Release.Tests;

/// <summary>
/// The shape of a JSON value, not its values: property names and value kinds, recursively. Two bodies with the same
/// shape differ only in values. Rules that keep timing out of it: <c>null</c> matches any kind (a nullable field that is
/// set in one run and not yet in the other), arrays of equal length are compared element by element, others each element
/// against the other side's first, and an empty array matches any array. Device data (a record's <c>payload</c>, a
/// sensor's <c>last_reading</c>) is compared by kind only: its fields depend on which sentence or datagram came last,
/// and it is copied through as JSON, never serialized from a .NET type.
/// </summary>
internal static class JsonShape
{
    private static readonly HashSet<string> OpaqueProperties = new(StringComparer.Ordinal) { "payload", "last_reading" };

    /// <summary>Every difference between <paramref name="expected"/> and <paramref name="actual"/>, as "path: what".</summary>
    public static List<string> Differences(JsonElement expected, JsonElement actual, string path = "$")
    {
        var differences = new List<string>();
        Compare(expected, actual, path, differences);
        return differences;
    }

    private static void Compare(JsonElement expected, JsonElement actual, string path, List<string> differences)
    {
        if (expected.ValueKind == JsonValueKind.Null || actual.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (Kind(expected) != Kind(actual))
        {
            differences.Add($"{path}: {Kind(expected)} in the JIT build, {Kind(actual)} in the other");
            return;
        }

        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var left = expected.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
                var right = actual.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
                foreach (var name in left.Keys.Except(right.Keys))
                {
                    differences.Add($"{path}.{name}: missing in the other build");
                }

                foreach (var name in right.Keys.Except(left.Keys))
                {
                    differences.Add($"{path}.{name}: only in the other build");
                }

                foreach (var name in left.Keys.Intersect(right.Keys))
                {
                    if (OpaqueProperties.Contains(name))
                    {
                        if (left[name].ValueKind != JsonValueKind.Null && right[name].ValueKind != JsonValueKind.Null && Kind(left[name]) != Kind(right[name]))
                        {
                            differences.Add($"{path}.{name}: {Kind(left[name])} in the JIT build, {Kind(right[name])} in the other");
                        }

                        continue;
                    }

                    Compare(left[name], right[name], $"{path}.{name}", differences);
                }

                break;
            case JsonValueKind.Array:
                var leftItems = expected.EnumerateArray().ToList();
                var rightItems = actual.EnumerateArray().ToList();
                if (leftItems.Count == 0 || rightItems.Count == 0)
                {
                    return;
                }

                // Same length (the same configuration: components, drones, sensors in the same order): element by element.
                // Otherwise (a page of records taken at different moments) every element against the other side's first.
                if (leftItems.Count == rightItems.Count)
                {
                    for (var i = 0; i < leftItems.Count; i++)
                    {
                        Compare(leftItems[i], rightItems[i], $"{path}[{i}]", differences);
                    }

                    return;
                }

                var found = new List<string>();
                foreach (var item in rightItems)
                {
                    Compare(leftItems[0], item, path + "[]", found);
                }

                foreach (var item in leftItems)
                {
                    Compare(item, rightItems[0], path + "[]", found);
                }

                differences.AddRange(found.Distinct(StringComparer.Ordinal));
                break;
        }
    }

    /// <summary>A canonical text of the shape (objects with sorted names, nulls as "null").</summary>
    public static string Describe(JsonElement e)
    {
        var sb = new StringBuilder();
        Write(e, sb);
        return sb.ToString();
    }

    private static void Write(JsonElement e, StringBuilder sb)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    sb.Append(p.Name).Append(':');
                    Write(p.Value, sb);
                    sb.Append(',');
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                foreach (var shape in e.EnumerateArray().Select(Describe).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                {
                    sb.Append(shape).Append('|');
                }

                sb.Append(']');
                break;
            default:
                sb.Append(Kind(e));
                break;
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Number => "number",
        JsonValueKind.String => "string",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        _ => "null",
    };
}
