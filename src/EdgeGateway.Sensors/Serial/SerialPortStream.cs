using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Runtime.InteropServices;

namespace EdgeGateway.Sensors.Serial;

/// <summary>
/// A Linux tty opened through termios and exposed as a <see cref="Stream"/>. Opened non-blocking,
/// without becoming the controlling terminal, and exclusively (TIOCEXCL plus an advisory flock, which
/// also holds against root); raw mode with the given baud rate and framing.
/// <para>
/// Reads never block the caller's thread: one dedicated thread per port waits in <c>poll</c> and moves
/// bytes into a bounded pipe; <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> awaits the pipe.
/// When the device disappears (EIO, EOF, hang-up) reads return 0 and <see cref="Disconnect"/> says why.
/// </para>
/// </summary>
public sealed class SerialPortStream : Stream
{
    private readonly int _fd;
    private readonly int _wakeFd;
    private readonly Pipe _pipe;
    private readonly Thread _thread;
    private int _disposed;
    private long _bytesRead;

    private SerialPortStream(int fd, int wakeFd, string path, SerialSettings settings)
    {
        _fd = fd;
        _wakeFd = wakeFd;
        DevicePath = path;
        Settings = settings;
        // Bounded: a consumer that stalls makes the reader thread wait, and the tty's own buffer then overflows (as on real hardware).
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024,
            minimumSegmentSize: 4096, useSynchronizationContext: false));
        _thread = new Thread(ReadLoop) { IsBackground = true, Name = "serial " + Path.GetFileName(path) };
        _thread.Start();
    }

    public string DevicePath { get; }

    public SerialSettings Settings { get; }

    /// <summary>Set once the device went away: "EIO (Input/output error)", "end of file", "hang-up".</summary>
    public string? Disconnect { get; private set; }

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Opens <paramref name="path"/>; on failure returns null with a message that tells the user what to do.</summary>
    public static SerialPortStream? TryOpen(string path, SerialSettings settings, [NotNullWhen(false)] out SerialOpenFailure? failure)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(settings);
        failure = null;
        if (!SerialSettings.TryGetSpeedConstant(settings.BaudRate, out var speed))
        {
            failure = Fail(SerialOpenError.UnsupportedSettings, LibC.EINVAL, path, settings);
            return null;
        }

        var fd = LibC.Open(path, LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            failure = Fail(SerialErrorMessages.Classify(errno), errno, path, settings);
            return null;
        }

        var step = Configure(fd, speed.Value, settings, out var configureErrno);
        if (step != SerialOpenError.None)
        {
            LibC.Close(fd);
            failure = Fail(step, configureErrno, path, settings);
            return null;
        }

        var wakeFd = LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (wakeFd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            LibC.Close(fd);
            failure = Fail(SerialOpenError.Other, errno, path, settings);
            return null;
        }

        return new SerialPortStream(fd, wakeFd, path, settings);
    }

    private static SerialOpenError Configure(int fd, uint speed, SerialSettings settings, out int errno)
    {
        errno = 0;
        // flock holds even against root, whom TIOCEXCL lets through (CAP_SYS_ADMIN).
        if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return errno == LibC.EAGAIN ? SerialOpenError.Busy : SerialErrorMessages.Classify(errno);
        }

        if (LibC.TcGetAttr(fd, out var t) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return errno == LibC.ENOTTY || errno == LibC.EINVAL ? SerialOpenError.NotATerminal : SerialErrorMessages.Classify(errno);
        }

        if (LibC.Ioctl(fd, LibC.TIOCEXCL) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return SerialErrorMessages.Classify(errno);
        }

        ApplyFraming(ref t, settings);
        if (LibC.CfSetISpeed(ref t, speed) != 0 || LibC.CfSetOSpeed(ref t, speed) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return SerialOpenError.UnsupportedSettings;
        }

        if (LibC.TcSetAttr(fd, LibC.TCSANOW, t) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return errno == LibC.EINVAL ? SerialOpenError.UnsupportedSettings : SerialErrorMessages.Classify(errno);
        }

        return SerialOpenError.None;
    }

    /// <summary>Raw mode plus data bits, parity, stop bits and flow control, as System.IO.Ports does on Unix.</summary>
    internal static void ApplyFraming(ref LibC.Termios t, SerialSettings settings)
    {
        LibC.CfMakeRaw(ref t);
        t.c_cflag &= ~(LibC.CSIZE | LibC.PARENB | LibC.PARODD | LibC.CSTOPB | LibC.CRTSCTS | LibC.HUPCL);
        t.c_cflag |= LibC.CREAD | LibC.CLOCAL | settings.DataBits switch
        {
            5 => LibC.CS5,
            6 => LibC.CS6,
            7 => LibC.CS7,
            _ => LibC.CS8,
        };
        t.c_iflag &= ~(LibC.INPCK | LibC.IXON | LibC.IXOFF);
        if (settings.Parity != SerialParity.None)
        {
            t.c_cflag |= LibC.PARENB | (settings.Parity == SerialParity.Odd ? LibC.PARODD : 0);
            t.c_iflag |= LibC.INPCK;
        }

        if (settings.StopBits == 2)
        {
            t.c_cflag |= LibC.CSTOPB;
        }

        switch (settings.FlowControl)
        {
            case SerialFlowControl.RtsCts:
                t.c_cflag |= LibC.CRTSCTS;
                break;
            case SerialFlowControl.XonXoff:
                t.c_iflag |= LibC.IXON | LibC.IXOFF;
                break;
        }

        unsafe
        {
            t.c_cc[LibC.VMIN] = 1;
            t.c_cc[LibC.VTIME] = 0;
        }

    }

    private static SerialOpenFailure Fail(SerialOpenError error, int errno, string path, SerialSettings settings)
    {
        string? resolved = null;
        try
        {
            var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
            resolved = target?.FullName;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        var access = error == SerialOpenError.PermissionDenied ? DeviceAccessReader.TryRead(path) : null;
        var message = SerialErrorMessages.Describe(error, errno, path, resolved, access, Environment.UserName, settings);
        return new SerialOpenFailure(error, errno, message);
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var result = await _pipe.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var available = result.Buffer;
        if (available.IsEmpty && result.IsCompleted)
        {
            _pipe.Reader.AdvanceTo(available.End);
            return 0;
        }

        var n = (int)Math.Min(available.Length, buffer.Length);
        var slice = available.Slice(0, n);
        System.Buffers.BuffersExtensions.CopyTo(slice, buffer.Span);
        _pipe.Reader.AdvanceTo(slice.End);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var rented = new byte[buffer.Length];
        var n = ReadAsync(rented).AsTask().GetAwaiter().GetResult();
        rented.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Writes everything, waiting up to a second at a time for the device to drain.</summary>
    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        fixed (byte* p = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = LibC.Write(_fd, p + done, buffer.Length - done);
                if (n > 0)
                {
                    done += (int)n;
                    continue;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (n < 0 && errno == LibC.EINTR)
                {
                    continue;
                }

                if (n < 0 && errno != LibC.EAGAIN)
                {
                    throw new IOException($"Writing to {DevicePath} failed: {LibC.ErrnoName(errno)} ({LibC.StrError(errno)})");
                }

                var pfd = new LibC.PollFd { fd = _fd, events = LibC.POLLOUT };
                if (LibC.Poll(&pfd, 1, 1000) == 0)
                {
                    throw new IOException($"Writing to {DevicePath} timed out: flow control holding the line, or the device is stuck.");
                }
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override unsafe void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (disposing)
        {
            ulong one = 1;
            LibC.Write(_wakeFd, (byte*)&one, sizeof(ulong));
            _pipe.Reader.Complete(); // releases a reader thread blocked on a full pipe
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        LibC.Close(_fd);
        LibC.Close(_wakeFd);
        base.Dispose(disposing);
    }

    private unsafe void ReadLoop()
    {
        var writer = _pipe.Writer;
        var fds = stackalloc LibC.PollFd[2];
        try
        {
            while (true)
            {
                fds[0] = new LibC.PollFd { fd = _fd, events = LibC.POLLIN };
                fds[1] = new LibC.PollFd { fd = _wakeFd, events = LibC.POLLIN };
                if (LibC.Poll(fds, 2, -1) < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    Disconnect = $"poll failed: {LibC.ErrnoName(errno)} ({LibC.StrError(errno)})";
                    return;
                }

                if (fds[1].revents != 0)
                {
                    return; // disposing
                }

                var events = fds[0].revents;
                if (events == 0)
                {
                    continue;
                }

                var memory = writer.GetMemory(4096);
                nint n;
                using (var pin = memory.Pin())
                {
                    n = LibC.Read(_fd, (byte*)pin.Pointer, memory.Length);
                }

                if (n > 0)
                {
                    Interlocked.Add(ref _bytesRead, n);
                    writer.Advance((int)n);
                    if (writer.FlushAsync().AsTask().GetAwaiter().GetResult().IsCompleted)
                    {
                        return;
                    }

                    continue;
                }

                if (n == 0)
                {
                    Disconnect = "end of file (device closed)";
                    return;
                }

                var readErrno = Marshal.GetLastPInvokeError();
                if (readErrno is LibC.EINTR || (readErrno == LibC.EAGAIN && (events & (LibC.POLLHUP | LibC.POLLERR | LibC.POLLNVAL)) == 0))
                {
                    continue;
                }

                Disconnect = readErrno == LibC.EAGAIN
                    ? "hang-up"
                    : $"{LibC.ErrnoName(readErrno)} ({LibC.StrError(readErrno)})";
                return;
            }
        }
        finally
        {
            writer.Complete();
        }
    }
}

/// <summary>Reads owner, group and mode of a device node (for the permission message).</summary>
internal static class DeviceAccessReader
{
    public static DeviceAccess? TryRead(string path)
    {
        try
        {
            if (LibC.StatX(LibC.AT_FDCWD, path, 0, LibC.STATX_BASIC_STATS, out var st) != 0)
            {
                return null;
            }

            return new DeviceAccess(NameOf("/etc/passwd", st.stx_uid), NameOf("/etc/group", st.stx_gid), st.stx_mode & 0x1FF);
        }
        catch (EntryPointNotFoundException)
        {
            return null; // libc older than glibc 2.28
        }
    }

    // /etc/passwd and /etc/group share the "name:x:id:" prefix.
    internal static string NameOf(string file, uint id)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                var parts = line.Split(':');
                if (parts.Length > 2 && uint.TryParse(parts[2], System.Globalization.CultureInfo.InvariantCulture, out var n) && n == id)
                {
                    return parts[0];
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return id.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
