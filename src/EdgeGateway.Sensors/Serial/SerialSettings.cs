using System.Diagnostics.CodeAnalysis;

namespace EdgeGateway.Sensors.Serial;

public enum SerialParity
{
    None = 0,
    Even = 1,
    Odd = 2,
}

public enum SerialFlowControl
{
    None = 0,
    /// <summary>Hardware handshake on the RTS/CTS lines.</summary>
    RtsCts = 1,
    /// <summary>Software handshake (XON/XOFF bytes); unusable with binary protocols.</summary>
    XonXoff = 2,
}

/// <summary>Line settings for one port: baud rate and framing such as 8N1 or 7E1.</summary>
public sealed record SerialSettings(int BaudRate = 9600, int DataBits = 8, SerialParity Parity = SerialParity.None,
    int StopBits = 1, SerialFlowControl FlowControl = SerialFlowControl.None)
{
    /// <summary>The standard rates Linux's termios accepts (Bnnn constants), 1200 to 921600.</summary>
    public static IReadOnlyList<int> StandardBaudRates { get; } =
        [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600];

    /// <summary>Framing as commonly written: data bits, parity letter, stop bits.</summary>
    public string Framing => $"{DataBits}{Parity switch { SerialParity.Even => 'E', SerialParity.Odd => 'O', _ => 'N' }}{StopBits}";

    public override string ToString() => $"{BaudRate} {Framing}";

    /// <summary>Parses <c>8N1</c>, <c>7E1</c>, <c>8O2</c> … (data bits 5–8, parity N/E/O, stop bits 1–2).</summary>
    public static bool TryParseFraming(string? text, out int dataBits, out SerialParity parity, out int stopBits)
    {
        dataBits = 8;
        parity = SerialParity.None;
        stopBits = 1;
        if (text is not { Length: 3 })
        {
            return false;
        }

        var t = text.ToUpperInvariant();
        if (t[0] is < '5' or > '8' || t[2] is not ('1' or '2'))
        {
            return false;
        }

        dataBits = t[0] - '0';
        stopBits = t[2] - '0';
        switch (t[1])
        {
            case 'N': parity = SerialParity.None; return true;
            case 'E': parity = SerialParity.Even; return true;
            case 'O': parity = SerialParity.Odd; return true;
            default: return false;
        }
    }

    internal static bool TryGetSpeedConstant(int baud, [NotNullWhen(true)] out uint? speed)
    {
        speed = baud switch
        {
            1200 => 0x9u,
            2400 => 0xBu,
            4800 => 0xCu,
            9600 => 0xDu,
            19200 => 0xEu,
            38400 => 0xFu,
            57600 => 0x1001u,
            115200 => 0x1002u,
            230400 => 0x1003u,
            460800 => 0x1004u,
            500000 => 0x1005u,
            576000 => 0x1006u,
            921600 => 0x1007u,
            _ => null,
        };
        return speed is not null;
    }
}
