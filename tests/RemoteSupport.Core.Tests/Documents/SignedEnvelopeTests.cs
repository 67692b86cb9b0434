using System.Text;
using System.Text.Json.Nodes;
using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Documents;

public class SignedEnvelopeTests
{
    private static readonly DocumentType Note = new("note", 1);

    [Fact]
    public void PreAuthenticationEncoding_MatchesDsseSpecExample()
    {
        // The DSSE v1 protocol document's example.
        SignedEnvelope envelope = SignedEnvelope.Create("http://example.com/HelloWorld", "hello world"u8);

        Encoding.UTF8.GetString(envelope.PreAuthenticationEncoding())
            .Should().Be("DSSEv1 29 http://example.com/HelloWorld 11 hello world");
    }

    [Fact]
    public void PreAuthenticationEncoding_CountsUtf8BytesOfTheType()
    {
        SignedEnvelope envelope = SignedEnvelope.Create("tÿpe", [1, 2]);

        byte[] pae = envelope.PreAuthenticationEncoding();
        pae.Should().Equal([.. "DSSEv1 5 tÿpe 2 "u8.ToArray(), 1, 2]);
    }

    [Fact]
    public void DocumentType_WritesVersionedMediaType_AndParsesBack()
    {
        Note.PayloadType.Should().Be("application/vnd.remotesupport.note+json; version=1");
        DocumentType.TryParse(Note.PayloadType, out DocumentType? parsed).Should().BeTrue();
        parsed.Should().Be(Note);
        DocumentType.TryParse("application/vnd.remotesupport.note+json; version=01", out _).Should().BeFalse();
        DocumentType.TryParse("application/json", out _).Should().BeFalse();
        FluentActions.Invoking(() => new DocumentType("Bad Kind", 1)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("kind");
        FluentActions.Invoking(() => new DocumentType("ok", 0)).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("version");
    }

    [Fact]
    public void Json_RoundTrip_KeepsEverySignature()
    {
        using var a = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var b = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        SignedEnvelope envelope = SignedEnvelope.Create(Note, "{\"text\":\"hi\"}"u8).Sign(a).Sign(b);

        SignedEnvelope parsed = SignedEnvelope.Parse(envelope.ToJson());

        parsed.PayloadType.Should().Be(Note.PayloadType);
        parsed.Payload.ToArray().Should().Equal(envelope.Payload.ToArray());
        parsed.Signatures.Select(s => s.KeyId).Should().Equal(a.PublicKey.KeyId, b.PublicKey.KeyId);
        parsed.Signatures[1].Signature.ToArray().Should().Equal(envelope.Signatures[1].Signature.ToArray());
        a.PublicKey.Verify(parsed.PreAuthenticationEncoding(), parsed.Signatures[0].Signature.Span).Should().BeTrue();
    }

    [Fact]
    public void Json_HasDsseFieldNamesAndStandardBase64()
    {
        using var a = PartyIdentity.Create("contoso", PartyRole.Vendor);
        SignedEnvelope envelope = SignedEnvelope.Create(Note, [0xfb, 0xff]).Sign(a);

        JsonNode json = JsonNode.Parse(envelope.ToJson())!;
        json["payloadType"]!.GetValue<string>().Should().Be(Note.PayloadType);
        json["payload"]!.GetValue<string>().Should().Be("+/8=");
        json["signatures"]![0]!["keyid"]!.GetValue<string>().Should().Be(a.PublicKey.KeyId);
        Convert.FromBase64String(json["signatures"]![0]!["sig"]!.GetValue<string>()).Should().HaveCount(64);
    }

    [Fact]
    public void Parse_AcceptsUrlSafeBase64()
    {
        SignedEnvelope envelope = SignedEnvelope.Parse("""{"payloadType":"t","payload":"-_8","signatures":[]}""");

        envelope.Payload.ToArray().Should().Equal(0xfb, 0xff);
    }

    [Fact]
    public void Sign_SameKeyTwice_AddsOneSignature()
    {
        using var a = PartyIdentity.Create("contoso", PartyRole.Vendor);
        SignedEnvelope envelope = SignedEnvelope.Create(Note, "x"u8).Sign(a).Sign(a);

        envelope.Signatures.Should().ContainSingle();
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"\"}", "lacks 'signatures'")]
    [InlineData("{\"payload\":\"\",\"signatures\":[]}", "lacks 'payloadType'")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"%%%\",\"signatures\":[]}", "'payload' is not valid base64")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":7,\"signatures\":[]}", "'payload' is not a base64 string")]
    [InlineData("{\"payloadType\":\"t\",\"payloadType\":\"u\",\"payload\":\"\",\"signatures\":[]}", "more than once")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[],\"extra\":1}", "Unknown property 'extra'")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"k\"}]}", "lacks 'sig'")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[1]}", "only signature objects")]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[]} {}", "not valid JSON")]
    [InlineData("{\"payloadType\":\"\",\"payload\":\"\",\"signatures\":[]}", "'payloadType' must be 1 to")]
    public void Parse_Malformed_NamesTheProblem(string json, string expected)
    {
        SignedEnvelope.TryParse(Encoding.UTF8.GetBytes(json), out SignedEnvelope? envelope, out string? error).Should().BeFalse();
        envelope.Should().BeNull();
        error.Should().Contain(expected);
        FluentActions.Invoking(() => SignedEnvelope.Parse(json)).Should().Throw<EnvelopeFormatException>().WithMessage($"*{expected}*");
    }

    [Fact]
    public void Parse_OverSizeLimit_IsRefusedWithoutParsing()
    {
        byte[] huge = new byte[SignedEnvelope.MaxEnvelopeBytes + 1];
        huge.AsSpan().Fill((byte)' ');

        SignedEnvelope.TryParse(huge, out _, out string? error).Should().BeFalse();
        error.Should().Contain("limit");
    }

    [Fact]
    public void Parse_TooManySignatures_IsRefused()
    {
        string sigs = string.Join(",", Enumerable.Repeat("{\"keyid\":\"k\",\"sig\":\"AA==\"}", SignedEnvelope.MaxSignatures + 1));
        string json = $"{{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{sigs}]}}";

        SignedEnvelope.TryParse(Encoding.UTF8.GetBytes(json), out _, out string? error).Should().BeFalse();
        error.Should().Contain("more than 32 signatures");
    }

    [Theory]
    [InlineData("{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"\u00ff\",\"sig\":\"AA==\"}]}")]
    [InlineData("{\"payloadType\":\"\u00ff\",\"payload\":\"\",\"signatures\":[]}")]
    [InlineData("{\"\u00ff\":1}")]
    public void Parse_AStringThatIsNotUtf8_IsRefused_NotThrown(string latin1)
    {
        // Found by fuzzing: the JSON reader checks a string's UTF-8 only when it is read, and that escaped TryParse.
        byte[] bytes = Encoding.Latin1.GetBytes(latin1); // U+00FF as the lone byte 0xFF: not UTF-8

        SignedEnvelope.TryParse(bytes, out SignedEnvelope? envelope, out string? error).Should().BeFalse();
        envelope.Should().BeNull();
        error.Should().Be("The envelope is not valid JSON: a string in it is not valid UTF-8.");
        FluentActions.Invoking(() => SignedEnvelope.Parse(bytes)).Should().Throw<EnvelopeFormatException>();
    }
}
