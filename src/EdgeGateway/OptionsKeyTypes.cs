using System.ComponentModel;
using System.Globalization;
using System.Reflection;

namespace EdgeGateway;

/// <summary>
/// Which .NET type a configuration key binds to in an options class, and whether a text converts to it the
/// way the configuration binder converts it. Lets the composition root report a value the binder would
/// reject by key and allowed values, instead of the binder's "Failed to convert … to type 'System.Int32'".
/// </summary>
internal static class OptionsKeyTypes
{
    /// <summary>The scalar type behind <paramref name="key"/> (relative to <paramref name="root"/>); null when unknown or text.</summary>
    public static Type? Resolve(Type root, string key)
    {
        var type = root;
        foreach (var segment in key.Split(':'))
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (IsScalar(type))
            {
                return null;
            }

            if (DictionaryValueType(type) is { } value)
            {
                type = value;
            }
            else if (ElementType(type) is { } element)
            {
                if (!int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    return null;
                }

                type = element;
            }
            else
            {
                var property = Array.Find(type.GetProperties(BindingFlags.Public | BindingFlags.Instance),
                    p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase) && p.GetIndexParameters().Length == 0);
                if (property is null)
                {
                    return null;
                }

                type = property.PropertyType;
            }
        }

        type = Nullable.GetUnderlyingType(type) ?? type;
        return IsScalar(type) && type != typeof(string) ? type : null;
    }

    /// <summary>True when the binder would accept <paramref name="value"/> for <paramref name="type"/>.</summary>
    public static bool Converts(Type type, string value)
    {
        if (value.Length == 0)
        {
            return true; // the binder leaves the default in place (or reports it itself)
        }

        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException or NotSupportedException
                                       or InvalidCastException || ex.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    /// <summary>"a valid integer", "a valid duration", …: what the value failed to be.</summary>
    public static string Describe(Type type) => type switch
    {
        _ when type.IsEnum => "one of the allowed names",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(TimeSpan) => "a valid duration",
        _ when IsInteger(type) => "a valid integer",
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a valid number",
        _ => $"a valid {type.Name}",
    };

    /// <summary>The values the type itself allows, when the options class states no narrower rule.</summary>
    public static string Allowed(Type type) => type switch
    {
        _ when type.IsEnum => string.Join(", ", Enum.GetNames(type)),
        _ when type == typeof(bool) => "true, false",
        _ when type == typeof(TimeSpan) => "a duration as [-][d.]hh:mm:ss[.fffffff], e.g. 00:00:05 or 00:00:00.250",
        _ when IsInteger(type) => string.Create(CultureInfo.InvariantCulture,
            $"a whole number from {type.GetField("MinValue")!.GetValue(null)} to {type.GetField("MaxValue")!.GetValue(null)}"),
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number with '.' as decimal point, e.g. 1.5",
        _ => $"a {type.Name}",
    };

    /// <summary>Extreme values of the type, to find the options' own rule for a key by what it rejects.</summary>
    public static IEnumerable<string> Extremes(Type type)
    {
        if (IsInteger(type))
        {
            yield return Convert.ToString(type.GetField("MinValue")!.GetValue(null), CultureInfo.InvariantCulture)!;
            yield return Convert.ToString(type.GetField("MaxValue")!.GetValue(null), CultureInfo.InvariantCulture)!;
        }
        else if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            yield return "-1E+28";
            yield return "1E+28";
        }
        else if (type == typeof(TimeSpan))
        {
            yield return TimeSpan.MinValue.ToString("c", CultureInfo.InvariantCulture);
            yield return TimeSpan.MaxValue.ToString("c", CultureInfo.InvariantCulture);
        }
    }

    private static bool IsInteger(Type type) =>
        type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte)
        || type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(sbyte);

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid) || type == typeof(Uri);

    private static Type? DictionaryValueType(Type type)
    {
        foreach (var candidate in new[] { type }.Concat(type.GetInterfaces()))
        {
            if (candidate.IsGenericType
                && (candidate.GetGenericTypeDefinition() == typeof(IDictionary<,>) || candidate.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))
                && candidate.GetGenericArguments()[0] == typeof(string))
            {
                return candidate.GetGenericArguments()[1];
            }
        }

        return null;
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        foreach (var candidate in new[] { type }.Concat(type.GetInterfaces()))
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return candidate.GetGenericArguments()[0];
            }
        }

        return null;
    }
}
