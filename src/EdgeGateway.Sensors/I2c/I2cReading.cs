using System.Text.Json;
using EdgeGateway.Sensors.Drivers;

namespace EdgeGateway.Sensors.I2c;

/// <summary>
/// One sample of an I2C chip: <c>{"type":"i2c","model":"bme280","values":{"temperature_c":25.08,…}}</c>. Every key
/// carries its unit, as the other readings' keys do; the console shows <c>values</c> as tiles.
/// </summary>
public sealed class I2cReading(string model, IReadOnlyList<(string Key, double Value)> values) : SensorReading
{
    public string Model { get; } = model;

    public IReadOnlyList<(string Key, double Value)> Values { get; } = values;

    public override string Type => "i2c";

    public double this[string key] => Values.First(v => v.Key == key).Value;

    public override void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteString("model", Model);
        writer.WriteStartObject("values");
        foreach (var (key, value) in Values)
        {
            if (double.IsFinite(value))
            {
                writer.WriteNumber(key, value);
            }
        }

        writer.WriteEndObject();
    }
}
