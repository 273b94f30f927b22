using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using EdgeGateway.Buffer;
using EdgeGateway.Drones;
using EdgeGateway.LocalApi;
using EdgeGateway.Mqtt;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Simulator;
using EdgeGateway.Upstream;

namespace EdgeGateway;

/// <summary>
/// Which .NET type a configuration key binds to in an options class, and whether a text converts to it the
/// way the configuration binder converts it. Lets the composition root report a value the binder would
/// reject by key and allowed values, instead of the binder's "Failed to convert … to type 'System.Int32'".
/// </summary>
internal static class OptionsKeyTypes
{
    /// <summary>The scalar type behind <paramref name="key"/> (relative to <paramref name="root"/>); null when unknown or text.</summary>
    /// <remarks>
    /// Reflection over the options classes, which the NativeAOT release keeps for exactly this walk: the sections'
    /// root types through <paramref name="root"/>'s annotation, the nested ones through the DynamicDependency list
    /// below (OptionsKeyTypesTests fails when an options class reachable from a section is missing from it).
    /// </remarks>
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(SinkForwardingOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(DroneEndpointOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(LocalApiTokenOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(LocalApiAuthOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(LocalApiLimitOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(LocalApiFailsafeOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(LocalApiCommandOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(SensorOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(LineFieldOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(DeadLetterOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(MqttSinkOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(RelaySinkOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(MqttTlsOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(MqttBackoffOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(MqttWill))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(MqttWebSocketOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(TelloFaultOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces, typeof(TelloSimulatorOptions))]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Nested options types are kept by the DynamicDependency list; collection types keep their interfaces.")]
    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "Nested options types are kept by the DynamicDependency list; collection types keep their interfaces.")]
    [UnconditionalSuppressMessage("Trimming", "IL2062", Justification = "Nested options types are kept by the DynamicDependency list; collection types keep their interfaces.")]
    [UnconditionalSuppressMessage("Trimming", "IL2067", Justification = "Nested options types are kept by the DynamicDependency list; collection types keep their interfaces.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Nested options types are kept by the DynamicDependency list.")]
    public static Type? Resolve([DynamicallyAccessedMembers(Walked)] Type root, string key)
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

    /// <summary>What <see cref="Resolve"/> reads of an options class.</summary>
    public const DynamicallyAccessedMemberTypes Walked = DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.Interfaces;

    /// <summary>True when the binder would accept <paramref name="value"/> for <paramref name="type"/>.</summary>
    /// <remarks>Parsed as the configuration binding generator parses (invariant culture), without TypeDescriptor's reflection.</remarks>
    public static bool Converts(Type type, string value)
    {
        if (value.Length == 0)
        {
            return true; // the binder leaves the default in place (or reports it itself)
        }

        var c = CultureInfo.InvariantCulture;
        const NumberStyles integer = NumberStyles.Integer;
        const NumberStyles real = NumberStyles.Float | NumberStyles.AllowThousands;
        return type switch
        {
            _ when type.IsEnum => Enum.TryParse(type, value, ignoreCase: true, out _),
            _ when type == typeof(bool) => bool.TryParse(value, out _),
            _ when type == typeof(int) => int.TryParse(value, integer, c, out _),
            _ when type == typeof(long) => long.TryParse(value, integer, c, out _),
            _ when type == typeof(short) => short.TryParse(value, integer, c, out _),
            _ when type == typeof(byte) => byte.TryParse(value, integer, c, out _),
            _ when type == typeof(uint) => uint.TryParse(value, integer, c, out _),
            _ when type == typeof(ulong) => ulong.TryParse(value, integer, c, out _),
            _ when type == typeof(ushort) => ushort.TryParse(value, integer, c, out _),
            _ when type == typeof(sbyte) => sbyte.TryParse(value, integer, c, out _),
            _ when type == typeof(double) => double.TryParse(value, real, c, out _),
            _ when type == typeof(float) => float.TryParse(value, real, c, out _),
            _ when type == typeof(decimal) => decimal.TryParse(value, real, c, out _),
            _ when type == typeof(TimeSpan) => TimeSpan.TryParse(value, c, out _),
            _ when type == typeof(DateTime) => DateTime.TryParse(value, c, DateTimeStyles.None, out _),
            _ when type == typeof(DateTimeOffset) => DateTimeOffset.TryParse(value, c, DateTimeStyles.None, out _),
            _ when type == typeof(Guid) => Guid.TryParse(value, out _),
            _ when type == typeof(Uri) => Uri.TryCreate(value, UriKind.RelativeOrAbsolute, out _),
            _ => true,
        };
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
            $"a whole number from {Range(type).Min} to {Range(type).Max}"),
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number with '.' as decimal point, e.g. 1.5",
        _ => $"a {type.Name}",
    };

    /// <summary>Extreme values of the type, to find the options' own rule for a key by what it rejects.</summary>
    public static IEnumerable<string> Extremes(Type type)
    {
        if (IsInteger(type))
        {
            var (min, max) = Range(type);
            yield return min;
            yield return max;
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

    private static (string Min, string Max) Range(Type type)
    {
        static (string, string) Of<T>(T min, T max) where T : IFormattable
            => (min.ToString(null, CultureInfo.InvariantCulture), max.ToString(null, CultureInfo.InvariantCulture));

        return type switch
        {
            _ when type == typeof(int) => Of(int.MinValue, int.MaxValue),
            _ when type == typeof(long) => Of(long.MinValue, long.MaxValue),
            _ when type == typeof(short) => Of(short.MinValue, short.MaxValue),
            _ when type == typeof(byte) => Of(byte.MinValue, byte.MaxValue),
            _ when type == typeof(uint) => Of(uint.MinValue, uint.MaxValue),
            _ when type == typeof(ulong) => Of(ulong.MinValue, ulong.MaxValue),
            _ when type == typeof(ushort) => Of(ushort.MinValue, ushort.MaxValue),
            _ when type == typeof(sbyte) => Of(sbyte.MinValue, sbyte.MaxValue),
            _ => throw new ArgumentException($"{type} is not an integer type", nameof(type)),
        };
    }

    private static bool IsInteger(Type type) =>
        type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte)
        || type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(sbyte);

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid) || type == typeof(Uri);

    private static Type? DictionaryValueType([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.Interfaces)] Type type)
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

    private static Type? ElementType([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.Interfaces)] Type type)
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
