namespace EdgeGateway.Mqtt;

/// <summary>
/// Packet identifiers as a FIFO free list (rule 1, [MQTT-2.3.1-2]): an id is handed out only when no PUBLISH or
/// SUBSCRIBE holds it, 0 is never issued, and a released id goes to the back, so ids wrap past 65,535 without ever
/// colliding with one still in flight. Exhaustion returns false (back-pressure), never an exception.
/// Not thread-safe: the client calls it under its own lock.
/// </summary>
internal sealed class PacketIdAllocator
{
    private const int Capacity = 65_535;
    private readonly ushort[] _ring = new ushort[Capacity];
    private readonly bool[] _inUse = new bool[65_536];
    private int _head;
    private int _count;

    public PacketIdAllocator()
    {
        for (var i = 0; i < Capacity; i++)
        {
            _ring[i] = (ushort)(i + 1);
        }

        _count = Capacity;
    }

    public int InUse => Capacity - _count;

    public bool IsInUse(ushort id) => _inUse[id];

    public bool TryAllocate(out ushort id)
    {
        if (_count == 0)
        {
            id = 0;
            return false;
        }

        id = _ring[_head];
        _head = (_head + 1) % Capacity;
        _count--;
        _inUse[id] = true;
        return true;
    }

    /// <summary>Returns an id to the free list; false (and no change) if it was not in use.</summary>
    public bool Release(ushort id)
    {
        if (id == 0 || !_inUse[id])
        {
            return false;
        }

        _inUse[id] = false;
        _ring[(_head + _count) % Capacity] = id;
        _count++;
        return true;
    }
}
