namespace EdgeGateway.Sensors.Framing;

/// <summary>Why the framer threw bytes away instead of producing a line.</summary>
public enum LineDropReason
{
    /// <summary>The line grew past the maximum length before its terminator.</summary>
    TooLong = 0,
    /// <summary>The line held control bytes, non-ASCII bytes (ASCII-only framers) or invalid UTF-8.</summary>
    BinaryGarbage = 1,
    /// <summary>A new start byte arrived before the previous line ended (a sentence cut short).</summary>
    Truncated = 2,
}

/// <summary>Receives what a <see cref="LineFramer"/> produces. An interface, not a delegate, so the hot path does not allocate.</summary>
public interface ILineHandler
{
    /// <summary>One complete line without its terminator. The span is only valid during the call.</summary>
    void OnLine(ReadOnlySpan<byte> line);

    void OnDropped(LineDropReason reason);
}

/// <summary>
/// Cuts a byte stream into lines ended by CR, LF or CRLF (empty lines are skipped). Bounded: a line
/// longer than <see cref="MaxLength"/> is discarded up to its terminator, and a line with binary
/// garbage is discarded whole; both are counted. With a <see cref="SyncByte"/> (NMEA's <c>$</c>)
/// the framer also restarts at every start byte, so a sentence cut short by noise does not swallow
/// the good one after it.
/// </summary>
public sealed class LineFramer
{
    private readonly byte[] _line;
    private readonly bool _asciiOnly;
    private int _length;
    private bool _discarding;
    private bool _binary;

    public LineFramer(int maxLength, bool asciiOnly, byte? syncByte = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        MaxLength = maxLength;
        _asciiOnly = asciiOnly;
        SyncByte = syncByte;
        _line = new byte[maxLength];
    }

    public int MaxLength { get; }

    public byte? SyncByte { get; }

    public long Lines { get; private set; }

    public long TooLong { get; private set; }

    public long BinaryGarbage { get; private set; }

    public long Truncated { get; private set; }

    public void Push(ReadOnlySpan<byte> data, ILineHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var sync = SyncByte ?? -1;
        foreach (var b in data)
        {
            if (b is (byte)'\n' or (byte)'\r')
            {
                EndLine(handler);
                continue;
            }

            if (b == sync)
            {
                if (_length > 0 && !_discarding)
                {
                    if (_binary)
                    {
                        Drop(LineDropReason.BinaryGarbage, handler);
                    }
                    else
                    {
                        Truncated++;
                        handler.OnDropped(LineDropReason.Truncated);
                    }
                }

                Reset();
            }

            if (_discarding)
            {
                continue;
            }

            if (_length == _line.Length)
            {
                // Counted once, when it happens: a device that never sends a terminator still shows up.
                _discarding = true;
                Drop(_binary ? LineDropReason.BinaryGarbage : LineDropReason.TooLong, handler);
                continue;
            }

            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F || (_asciiOnly && b >= 0x80))
            {
                _binary = true;
            }

            _line[_length++] = b;
        }
    }

    /// <summary>Forgets a partial line (the port was reopened).</summary>
    public void Reset()
    {
        _length = 0;
        _discarding = false;
        _binary = false;
    }

    private void EndLine(ILineHandler handler)
    {
        if (_discarding || _length == 0)
        {
            Reset();
            return;
        }

        var line = _line.AsSpan(0, _length);
        if (_binary || (!_asciiOnly && !System.Text.Unicode.Utf8.IsValid(line)))
        {
            Drop(LineDropReason.BinaryGarbage, handler);
            Reset();
            return;
        }

        Lines++;
        Reset();
        handler.OnLine(line);
    }

    private void Drop(LineDropReason reason, ILineHandler handler)
    {
        if (reason == LineDropReason.TooLong)
        {
            TooLong++;
        }
        else
        {
            BinaryGarbage++;
        }

        handler.OnDropped(reason);
    }
}
