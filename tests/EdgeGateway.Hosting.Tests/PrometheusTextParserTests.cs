namespace EdgeGateway.Hosting.Tests;

/// <summary>The strict parser must itself reject broken text, or the exposition tests prove nothing.</summary>
public sealed class PrometheusTextParserTests
{
    [Theory]
    [InlineData("m 1", "no final line feed")]
    [InlineData("m 1\n", "no TYPE")]
    [InlineData("# TYPE m gauge\n\nm 1\n", "blank line")]
    [InlineData("# TYPE 1m gauge\n", "bad metric name")]
    [InlineData("# TYPE m meter\n", "unknown type")]
    [InlineData("# TYPE m gauge\n# TYPE m gauge\nm 1\n", "second TYPE")]
    [InlineData("# TYPE m gauge\nm 1\n# TYPE m gauge\n", "TYPE after samples")]
    [InlineData("# TYPE m gauge\nm{a=\"x\"} 1\n# TYPE n gauge\nn 1\nm{a=\"y\"} 1\n", "interleaved families")]
    [InlineData("# TYPE m gauge\nm{a=\"x\"} 1\nm{a=\"x\"} 2\n", "duplicate series")]
    [InlineData("# TYPE m gauge\nm{a=\"x\\t\"} 1\n", "bad escape in label value")]
    [InlineData("# TYPE m gauge\nm{a=\"x\"y\"} 1\n", "unescaped quote")]
    [InlineData("# TYPE m gauge\nm{a-b=\"x\"} 1\n", "bad label name")]
    [InlineData("# TYPE m gauge\nm{__a=\"x\"} 1\n", "reserved label name")]
    [InlineData("# TYPE m gauge\nm{a=\"x\",a=\"y\"} 1\n", "label twice")]
    [InlineData("# TYPE m gauge\nm 1,5\n", "bad float")]
    [InlineData("# TYPE m gauge\nm inf\n", "lower-case inf")]
    [InlineData("# TYPE m gauge\nm  1\n", "two spaces")]
    [InlineData("# HELP m a \\t b\n# TYPE m gauge\nm 1\n", "bad escape in HELP")]
    [InlineData("# some comment\n", "free comment")]
    [InlineData("# TYPE m_total counter\nm 1\n", "sample name differs from family")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "not cumulative")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "no +Inf bucket")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "count differs")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", "no sum")]
    [InlineData("# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "le not increasing")]
    public void Rejects_broken_exposition(string text, string problem)
    {
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse(text));
        Assert.NotEmpty(problem);
    }

    [Fact]
    public void Accepts_valid_exposition_and_decodes_escapes()
    {
        var text = "# HELP m Help with \\\\ and \\n.\n# TYPE m gauge\nm{a=\"q\\\"\\\\\\n\",b=\"\"} -Inf\nm{a=\"2\"} NaN 1700000000000\n"
            + "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 4.5e0\nh_count 3\n";
        var families = PrometheusTextParser.Parse(text);
        Assert.Equal("Help with \\ and \n.", families["m"].Help);
        Assert.Equal("q\"\\\n", families["m"].Samples[0].Label("a"));
        Assert.True(double.IsNegativeInfinity(families["m"].Samples[0].Value));
        Assert.True(double.IsNaN(families["m"].Samples[1].Value));
        Assert.Equal(4, families["h"].Samples.Count);
    }
}
