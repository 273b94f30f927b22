using EdgeGateway.Hosting.Metrics;

namespace EdgeGateway.Hosting.Tests;

/// <summary>Gauges never end in _count (promtool: reserved for histograms and summaries).</summary>
public sealed class GaugeNameTests
{
    [Theory]
    [InlineData("dotnet_assembly_count", "{assembly}", "dotnet_assemblies")]
    [InlineData("dotnet_process_cpu_count", "{cpu}", "dotnet_process_cpus")]
    [InlineData("dotnet_timer_count", "{timer}", "dotnet_timers")]
    [InlineData("dotnet_thread_pool_thread_count", "{thread}", "dotnet_thread_pool_threads")]
    [InlineData("edge_link_count", "{work_item}", "edge_link_work_items")]
    [InlineData("edge_queue_count", "{box}", "edge_queue_boxes")]
    [InlineData("edge_thing_count", "{Day}", "edge_thing_days")]
    [InlineData("client_count", "{client}", "clients")]
    [InlineData("edge_clients_count", null, "edge_clients_items")]
    [InlineData("edge_clients_count", "s", "edge_clients_items")]
    [InlineData("edge_clients_count", "{}", "edge_clients_items")]
    [InlineData("edge_clients", "{client}", "edge_clients")]
    [InlineData("edge_account_total", "{x}", "edge_account_total")]
    [InlineData("_count", "{x}", "_count")]
    public void Gauge_ending_in_count_is_named_after_what_it_counts(string name, string? unit, string expected) =>
        Assert.Equal(expected, PrometheusText.GaugeName(name, unit));
}
