namespace EdgeGateway.Buffer.Upstream;

/// <summary>
/// The sequence ranges a forwarder has already read and judged (sent or skipped), so that a per-record metric such as
/// "skipped by downsampling" counts a record once, however often a retry from the cursor reads it again. Reads are
/// contiguous per lane, so this holds a handful of disjoint ranges (one per lane, merged as they meet), and everything
/// at or below the cursor collapses into one floor.
/// </summary>
internal sealed class ExaminedSequences
{
    private readonly List<(long After, long Through)> _ranges = []; // disjoint, sorted, each (After, Through]
    private long _floor = long.MinValue; // everything at or below was examined

    public bool Contains(long sequence)
    {
        if (sequence <= _floor)
        {
            return true;
        }

        foreach (var (after, through) in _ranges)
        {
            if (sequence > after && sequence <= through)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records that every sequence in (<paramref name="after"/>, <paramref name="through"/>] was examined.</summary>
    public void Add(long after, long through)
    {
        if (through <= after)
        {
            return;
        }

        var i = 0;
        while (i < _ranges.Count && _ranges[i].Through < after)
        {
            i++;
        }

        // Merge every range that overlaps or touches (after, through].
        while (i < _ranges.Count && _ranges[i].After <= through)
        {
            after = Math.Min(after, _ranges[i].After);
            through = Math.Max(through, _ranges[i].Through);
            _ranges.RemoveAt(i);
        }

        _ranges.Insert(i, (after, through));
        Compact();
    }

    /// <summary>The cursor passed <paramref name="cursor"/>: those records are never read again by this forwarder.</summary>
    public void PassedThrough(long cursor)
    {
        if (cursor > _floor)
        {
            _floor = cursor;
            Compact();
        }
    }

    public int RangeCount => _ranges.Count;

    private void Compact()
    {
        while (_ranges.Count > 0 && _ranges[0].After <= _floor)
        {
            _floor = Math.Max(_floor, _ranges[0].Through);
            _ranges.RemoveAt(0);
        }
    }
}
