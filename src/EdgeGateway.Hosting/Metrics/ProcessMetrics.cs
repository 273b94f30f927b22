using System.Text;

namespace EdgeGateway.Hosting.Metrics;

/// <summary>The standard Prometheus process_* metrics, build info and the start-to-ready time, read at scrape time.</summary>
internal static class ProcessMetrics
{
    public static void Write(StringBuilder sb, string buildInfoLabels)
    {
        PrometheusText.AppendHeader(sb, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        Sample(sb, "process_resident_memory_bytes", Environment.WorkingSet);

        PrometheusText.AppendHeader(sb, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        Sample(sb, "process_cpu_seconds_total", Environment.CpuUsage.TotalTime.TotalSeconds);

        PrometheusText.AppendHeader(sb, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        Sample(sb, "process_start_time_seconds", ProcessStartTiming.ProcessStartUtc.ToUnixTimeMilliseconds() / 1000.0);

        var fds = OpenFileDescriptors();
        if (fds >= 0)
        {
            PrometheusText.AppendHeader(sb, "process_open_fds", "gauge", "Number of open file descriptors.");
            Sample(sb, "process_open_fds", fds);
        }

        PrometheusText.AppendHeader(sb, "edge_build_info", "gauge", "Build and runtime of this gateway; the value is always 1.");
        sb.Append("edge_build_info{").Append(buildInfoLabels).Append("} 1\n");

        if (ProcessStartTiming.ReadyAfter is { } ready)
        {
            PrometheusText.AppendHeader(sb, "edge_startup_ready_seconds", "gauge", "Time from process start to READY=1 sent to systemd, in seconds.");
            Sample(sb, "edge_startup_ready_seconds", ready.TotalSeconds);
        }
    }

    private static void Sample(StringBuilder sb, string name, double value)
    {
        sb.Append(name).Append(' ');
        PrometheusText.AppendValue(sb, value);
        sb.Append('\n');
    }

    private static int OpenFileDescriptors()
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        try
        {
            var count = 0;
            foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                count++;
            }

            // The enumeration itself holds one descriptor open.
            return Math.Max(0, count - 1);
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }
}
