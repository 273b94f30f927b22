namespace EdgeGateway.Sensors.I2c;

/// <summary>The chips an <c>i2c</c> sensor can be (<c>Sensors:Items:N:Device</c>).</summary>
public enum I2cSensorModel
{
    Bme280,
    Bmp280,
    Ina219,
    Mpu6050,
}

/// <summary>Per-chip settings beyond bus and address.</summary>
/// <param name="ShuntOhms">INA219: the shunt resistor.</param>
/// <param name="MaxCurrentA">INA219: the largest current expected; sets the current resolution.</param>
public sealed record I2cChipOptions(double ShuntOhms, double MaxCurrentA);
