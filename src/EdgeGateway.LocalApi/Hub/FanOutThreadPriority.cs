using System.Runtime.InteropServices;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>
/// Lowers the calling thread's scheduling priority on Linux (a nice value for this thread only), so that on a busy
/// core the threads that handle requests and commands (an <c>emergency</c>) run before the fan-out. .NET's
/// <see cref="Thread.Priority"/> does nothing on Linux; <c>setpriority(PRIO_PROCESS, tid, n)</c> applies to one thread.
/// Raising a nice value needs no privilege.
/// </summary>
internal static partial class FanOutThreadPriority
{
    /// <summary>The nice value of the fan-out thread (0 normal, 19 lowest).</summary>
    public const int Nice = 10;

    /// <summary>True when the priority was lowered.</summary>
    public static bool TryLowerCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return SetPriority(0 /* PRIO_PROCESS: with a thread id, that thread */, GetTid(), Nice) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
