using System.Runtime.InteropServices;
using System.Text;

namespace EdgeGateway.Simulator.Serial;

/// <summary>
/// A pseudo-terminal pair created in-process (<c>posix_openpt</c>, <c>grantpt</c>, <c>unlockpt</c>,
/// <c>ptsname_r</c>): the simulator writes to the master side, the gateway opens the slave path as if it
/// were a USB serial adapter. Optionally a stable symlink points at the slave, re-pointed atomically as
/// udev does for <c>/dev/serial/by-id/…</c>. Disposing it is "unplugging": the slave disappears and a
/// reader gets EIO.
/// </summary>
public sealed partial class PseudoTerminal : IDisposable
{
    private readonly int _master;
    private readonly int _slave;
    private long _dropped;
    private int _disposed;

    private PseudoTerminal(int master, int slave, string slavePath, string? linkPath)
    {
        _master = master;
        _slave = slave;
        SlavePath = slavePath;
        LinkPath = linkPath;
    }

    /// <summary>The pty slave, e.g. <c>/dev/pts/7</c>.</summary>
    public string SlavePath { get; }

    /// <summary>The stable symlink to <see cref="SlavePath"/>, when one was asked for.</summary>
    public string? LinkPath { get; }

    /// <summary>What a reader should open: the symlink when there is one.</summary>
    public string DevicePath => LinkPath ?? SlavePath;

    /// <summary>Bytes that did not fit because nobody read the slave (a real UART would overrun too).</summary>
    public long BytesDropped => Interlocked.Read(ref _dropped);

    /// <summary>Creates a pty pair; when <paramref name="linkPath"/> is given, points that symlink at the slave (replacing an old link).</summary>
    public static PseudoTerminal Open(string? linkPath = null)
    {
        var master = Native.posix_openpt(Native.O_RDWR | Native.O_NOCTTY | Native.O_CLOEXEC);
        if (master < 0)
        {
            throw Error("posix_openpt");
        }

        var slave = -1;
        try
        {
            if (Native.grantpt(master) != 0)
            {
                throw Error("grantpt");
            }

            if (Native.unlockpt(master) != 0)
            {
                throw Error("unlockpt");
            }

            var name = new byte[256];
            var rc = Native.ptsname_r(master, name, (nuint)name.Length);
            if (rc != 0)
            {
                throw new IOException($"ptsname_r failed: errno {rc}");
            }

            var slavePath = Encoding.UTF8.GetString(name, 0, Array.IndexOf(name, (byte)0));

            // Hold the slave open ourselves, in raw mode: bytes written before the gateway opens it are
            // kept (not echoed, not turned into newlines), and the gateway closing and reopening the port
            // does not hang up the master.
            slave = Native.open(Encoding.UTF8.GetBytes(slavePath + "\0"), Native.O_RDWR | Native.O_NOCTTY | Native.O_CLOEXEC);
            if (slave < 0)
            {
                throw Error("open " + slavePath);
            }

            if (Native.tcgetattr(slave, out var t) != 0)
            {
                throw Error("tcgetattr");
            }

            Native.cfmakeraw(ref t);
            if (Native.tcsetattr(slave, 0, ref t) != 0)
            {
                throw Error("tcsetattr");
            }

            // Non-blocking master: when nobody reads, writes fail with EAGAIN and are dropped instead of stalling the simulator.
            var flags = Native.fcntl(master, Native.F_GETFL, 0);
            _ = Native.fcntl(master, Native.F_SETFL, flags | Native.O_NONBLOCK);
            if (linkPath is not null)
            {
                PointLink(linkPath, slavePath);
            }

            return new PseudoTerminal(master, slave, slavePath, linkPath);
        }
        catch
        {
            if (slave >= 0)
            {
                _ = Native.close(slave);
            }

            _ = Native.close(master);
            throw;
        }
    }

    /// <summary>Writes what the device "sends"; returns how many bytes went in (the rest is dropped and counted).</summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var done = 0;
        while (done < data.Length)
        {
            var n = Native.write(_master, ref MemoryMarshal.GetReference(data[done..]), data.Length - done);
            if (n > 0)
            {
                done += (int)n;
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Native.EINTR)
            {
                continue;
            }

            break; // EAGAIN: the line discipline's buffer is full
        }

        Interlocked.Add(ref _dropped, data.Length - done);
        return done;
    }

    public int Write(string text) => Write(Encoding.ASCII.GetBytes(text));

    /// <summary>Unplugs: closes both sides and removes the symlink if it still points here (as udev does).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _ = Native.close(_slave);
        _ = Native.close(_master);
        if (LinkPath is not null)
        {
            try
            {
                var info = new FileInfo(LinkPath);
                if (info.LinkTarget == SlavePath)
                {
                    info.Delete();
                }
            }
            catch (IOException)
            {
            }
        }
    }

    private static void PointLink(string linkPath, string target)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(linkPath))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(linkPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        File.CreateSymbolicLink(temp, target);
        File.Move(temp, linkPath, overwrite: true); // rename(2): the link never goes missing while re-pointed
    }

    private static IOException Error(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})");
    }

    private static partial class Native
    {
        public const int O_RDWR = 0x2;
        public const int O_NOCTTY = 0x100;
        public const int O_NONBLOCK = 0x800;
        public const int O_CLOEXEC = 0x80000;
        public const int F_GETFL = 3;
        public const int F_SETFL = 4;
        public const int EINTR = 4;

        /// <summary>struct termios (glibc, all Linux architectures); c_cc is left to cfmakeraw.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 60)]
        public struct Termios
        {
            [FieldOffset(0)] public uint IFlag;
            [FieldOffset(4)] public uint OFlag;
            [FieldOffset(8)] public uint CFlag;
            [FieldOffset(12)] public uint LFlag;
        }

        [DllImport("libc", SetLastError = true)]
        public static extern int posix_openpt(int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int grantpt(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern int unlockpt(int fd);

        [DllImport("libc")]
        public static extern int ptsname_r(int fd, byte[] buffer, nuint length);

        [DllImport("libc", SetLastError = true)]
        public static extern int open(byte[] path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern nint write(int fd, ref byte buffer, nint count);

        [DllImport("libc", SetLastError = true)]
        public static extern int fcntl(int fd, int cmd, int arg);

        [DllImport("libc", SetLastError = true)]
        public static extern int tcgetattr(int fd, out Termios termios);

        [DllImport("libc", SetLastError = true)]
        public static extern int tcsetattr(int fd, int actions, ref Termios termios);

        [DllImport("libc")]
        public static extern void cfmakeraw(ref Termios termios);
    }
}
