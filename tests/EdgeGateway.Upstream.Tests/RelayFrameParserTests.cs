using System.Text;
using EdgeGateway.Upstream.Relay;

namespace EdgeGateway.Upstream.Tests;

public sealed class RelayFrameParserTests
{
    [Fact]
    public void Ack_yields_its_sequence()
    {
        Assert.Equal(RelayFrameKind.Ack, RelayFrameParser.Parse("""{"type":"ack","seq":42}"""u8, out var seq, out var error));
        Assert.Equal(42, seq);
        Assert.Null(error);
    }

    [Fact]
    public void Escaped_names_and_type_still_match()
    {
        Assert.Equal(RelayFrameKind.Ack, RelayFrameParser.Parse("""{"\u0074ype":"\u0061ck","s\u0065q":7}"""u8, out var seq, out _));
        Assert.Equal(7, seq);
    }

    [Theory]
    [InlineData("""{"type":"ack","seq":"42"}""", nameof(RelayFrameKind.AckWithoutSeq))]
    [InlineData("""{"type":"hello"}""", nameof(RelayFrameKind.Ignored))]
    [InlineData("""[1]""", nameof(RelayFrameKind.NotJsonObject))]
    [InlineData("""{"type":"ack",""", nameof(RelayFrameKind.InvalidJson))]
    public void Other_frames_are_classified(string frame, string expected) =>
        Assert.Equal(expected, RelayFrameParser.Parse(Encoding.UTF8.GetBytes(frame), out _, out _).ToString());

    // Found by fuzzing (issue 11): Utf8JsonReader.GetString threw InvalidOperationException on these, which escaped
    // the sink's receive loop. Inputs: fuzz/corpus/relay/crash-*.
    [Theory]
    [InlineData(new byte[] { 0x7B, 0x22, 0x74, 0x79, 0xFE, 0x65, 0x22, 0x3A, 0x31, 0x2C, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3A, 0x22, 0x61, 0x63, 0x6B, 0x22, 0x2C, 0x22, 0x73, 0x65, 0x71, 0x22, 0x3A, 0x31, 0x7D })]
    [InlineData(new byte[] { 0x7B, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3A, 0x22, 0x61, 0x9C, 0x6B, 0x22, 0x7D })]
    public void Invalid_utf8_in_a_name_or_the_type_is_not_an_exception(byte[] frame)
    {
        var kind = RelayFrameParser.Parse(frame, out _, out _);
        Assert.True(kind is RelayFrameKind.Ack or RelayFrameKind.Ignored, kind.ToString());
    }

    [Theory]
    [InlineData("""{"\ud800":1,"type":"ack","seq":3}""")]
    [InlineData("""{"type":"\udc00ack","seq":3}""")]
    public void Lone_surrogate_escapes_are_invalid_json_not_an_exception(string frame)
    {
        Assert.Equal(RelayFrameKind.InvalidJson, RelayFrameParser.Parse(Encoding.UTF8.GetBytes(frame), out _, out var error));
        Assert.NotNull(error);
    }
}
