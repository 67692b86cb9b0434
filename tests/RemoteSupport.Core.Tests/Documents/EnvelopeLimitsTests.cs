using System.Text;
using System.Text.Json;
using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Documents;

/// <summary>
/// The envelope's and document types' limits at their exact boundaries, and the sentence of each refusal
/// (the mutation run of Documents, docs/testing.md).
/// </summary>
public sealed class EnvelopeLimitsTests : IDisposable
{
    private readonly PartyIdentity _signer = PartyIdentity.Create("fabrikam", PartyRole.Customer);

    public void Dispose() => _signer.Dispose();

    private static string Refusal(string json)
    {
        SignedEnvelope.TryParse(Encoding.UTF8.GetBytes(json), out _, out string? error).Should().BeFalse();
        return error!;
    }

    [Fact]
    public void NullArguments_Throw()
    {
        SignedEnvelope envelope = SignedEnvelope.Create("text/plain", "x"u8);
        FluentActions.Invoking(() => SignedEnvelope.Create((DocumentType)null!, "x"u8)).Should().Throw<ArgumentNullException>().WithParameterName("type");
        FluentActions.Invoking(() => SignedEnvelope.Create((string)null!, "x"u8)).Should().Throw<ArgumentNullException>().WithParameterName("payloadType");
        FluentActions.Invoking(() => SignedEnvelope.Create("", "x"u8)).Should().Throw<ArgumentException>().WithParameterName("payloadType");
        FluentActions.Invoking(() => envelope.Sign(null!)).Should().Throw<ArgumentNullException>().WithParameterName("signer");
        FluentActions.Invoking(() => envelope.AddSignature(null!)).Should().Throw<ArgumentNullException>().WithParameterName("signature");
        FluentActions.Invoking(() => envelope.WriteJson(null!)).Should().Throw<ArgumentNullException>().WithParameterName("output");
        FluentActions.Invoking(() => SignedEnvelope.Parse((string)null!)).Should().Throw<ArgumentNullException>().WithParameterName("json");
        FluentActions.Invoking(() => new EnvelopeSignature(null!, new byte[64])).Should().Throw<ArgumentNullException>().WithParameterName("keyId");
    }

    [Fact]
    public void APayloadType_OfTheLongestLength_IsWrittenAndRead_OneLongerIsRefused()
    {
        string longest = new('t', SignedEnvelope.MaxPayloadTypeLength);
        SignedEnvelope envelope = SignedEnvelope.Create(longest, "x"u8).Sign(_signer);

        SignedEnvelope.Parse(envelope.ToUtf8Json()).PayloadType.Should().Be(longest);
        FluentActions.Invoking(() => SignedEnvelope.Create(longest + "t", "x"u8)).Should().Throw<ArgumentException>()
            .WithMessage("A payload type is at most 256 characters.*");
        Refusal($$"""{"payloadType":"{{longest}}t","payload":"","signatures":[]}""").Should().Be("'payloadType' must be 1 to 256 characters.");
    }

    [Fact]
    public void AKeyId_OfTheLongestLength_IsWrittenAndRead_OneLongerIsRefused()
    {
        string longest = new('k', SignedEnvelope.MaxKeyIdLength);
        SignedEnvelope envelope = SignedEnvelope.Create("text/plain", "x"u8).AddSignature(new EnvelopeSignature(longest, new byte[64]));

        SignedEnvelope.Parse(envelope.ToUtf8Json()).Signatures.Single().KeyId.Should().Be(longest);
        FluentActions.Invoking(() => new EnvelopeSignature(longest + "k", new byte[64])).Should().Throw<ArgumentException>()
            .WithMessage("A key id is at most 128 characters.*");
        Refusal($$"""{"payloadType":"t","payload":"","signatures":[{"keyid":"{{longest}}k","sig":""}]}""")
            .Should().Be("A signature's 'keyid' must be a string of at most 128 characters.");
        Refusal("""{"payloadType":"t","payload":"","signatures":[{"keyid":5,"sig":""}]}""")
            .Should().Be("A signature's 'keyid' must be a string of at most 128 characters.");
    }

    [Fact]
    public void TheMostSignatures_AreCarried_OneMoreIsRefused_ByAddSignatureAndBySign()
    {
        SignedEnvelope envelope = SignedEnvelope.Create("text/plain", "x"u8);
        for (int i = 0; i < SignedEnvelope.MaxSignatures; i++)
        {
            envelope = envelope.AddSignature(new EnvelopeSignature("key-" + i, new byte[64]));
        }

        envelope.Signatures.Should().HaveCount(32);
        SignedEnvelope.Parse(envelope.ToUtf8Json()).Signatures.Should().HaveCount(32);
        FluentActions.Invoking(() => envelope.AddSignature(new EnvelopeSignature("one-more", new byte[64]))).Should().Throw<InvalidOperationException>()
            .WithMessage("An envelope carries at most 32 signatures.");
        FluentActions.Invoking(() => envelope.Sign(_signer)).Should().Throw<InvalidOperationException>()
            .WithMessage("An envelope carries at most 32 signatures.");
    }

    [Fact]
    public void Sign_AddsARealSignature_BesideAStaleOneUnderTheSameKeyId_AndOnlyOnce()
    {
        SignedEnvelope stale = SignedEnvelope.Create("text/plain", "x"u8).AddSignature(new EnvelopeSignature(_signer.PublicKey.KeyId, new byte[64]));

        SignedEnvelope signed = stale.Sign(_signer);

        signed.Signatures.Should().HaveCount(2, "a signature that does not verify does not count as this key's");
        _signer.PublicKey.Verify(signed.PreAuthenticationEncoding(), signed.Signatures[1].Signature.Span).Should().BeTrue();
        signed.Sign(_signer).Should().BeSameAs(signed);
    }

    [Fact]
    public void TheJsonForm_IsIndentedOnlyWhenAsked_AndKeepsThePlusOfAPayloadType()
    {
        SignedEnvelope envelope = SignedEnvelope.Create(GroundRulesType, "{}"u8).Sign(_signer);

        string compact = Encoding.UTF8.GetString(envelope.ToUtf8Json());
        string indented = Encoding.UTF8.GetString(envelope.ToUtf8Json(indented: true));

        compact.Should().NotContain("\n").And.Contain("+json; version=1");
        indented.Should().Contain("\n  \"payloadType\": \"application/vnd.remotesupport.ground-rules+json; version=1\"");
        JsonSerializer.Serialize(new { a = 1 }, DocumentJson.Indented).Should().Contain("\n");
    }

    private static DocumentType GroundRulesType => SecurityGroundRules.DocumentType;

    [Fact]
    public void AnEnvelopeOfExactlyTheLimit_IsRead_OneByteMoreIsRefused()
    {
        string json = Encoding.UTF8.GetString(SignedEnvelope.Create("text/plain", "x"u8).Sign(_signer).ToUtf8Json());
        string atLimit = json + new string(' ', SignedEnvelope.MaxEnvelopeBytes - json.Length);

        SignedEnvelope.Parse(atLimit).Signatures.Should().ContainSingle();
        SignedEnvelope.Parse(Encoding.UTF8.GetBytes(atLimit)).Signatures.Should().ContainSingle();
        FluentActions.Invoking(() => SignedEnvelope.Parse(atLimit + " ")).Should().Throw<EnvelopeFormatException>()
            .WithMessage("The envelope is longer than the limit of 1048576 bytes.");
        Refusal(atLimit + " ").Should().Be("The envelope is 1048577 bytes, more than the limit of 1048576.");
    }

    [Theory]
    [InlineData("""{"payloadType":"a","payloadType":"b","payload":"","signatures":[]}""", "'payloadType' appears more than once.")]
    [InlineData("""{"payloadType":"a","payload":"","payload":"","signatures":[]}""", "'payload' appears more than once.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[],"signatures":[]}""", "'signatures' appears more than once.")]
    [InlineData("""{"payload":"","signatures":[]}""", "The envelope lacks 'payloadType'.")]
    [InlineData("""{"payloadType":"a","signatures":[]}""", "The envelope lacks 'payload'.")]
    [InlineData("""{"payloadType":"a","payload":""}""", "The envelope lacks 'signatures'.")]
    [InlineData("""{"payloadType":5,"payload":"","signatures":[]}""", "'payloadType' is not a string.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":{}}""", "'signatures' is not an array.")]
    [InlineData("""{"payloadType":"a","payload":"\u0041AAA","signatures":[]}""", "'payload' contains escape sequences; base64 never needs them.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[{"keyid":"a","sig":"!"}]}""", "'sig' is not valid base64.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[{"keyid":"a","keyid":"b","sig":""}]}""", "A signature has an unknown or repeated property 'keyid'.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[{"sig":"","sig":""}]}""", "A signature has an unknown or repeated property 'sig'.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[{"keyid":"a"}]}""", "Signature 0 lacks 'sig'.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[{"abcdefghijabcdefghijabcdefghijabcdefghij":""}]}""", "A signature has an unknown or repeated property 'abcdefghijabcdefghijabcdefghijabcdefghij'.")]
    [InlineData("""{"payloadType":"a","payload":"","signatures":[{"abcdefghijabcdefghijabcdefghijabcdefghijX":""}]}""", "A signature has an unknown or repeated property 'abcdefghijabcdefghijabcdefghijabcdefghij…'.")]
    public void EachMalformedEnvelope_IsRefusedWithItsSentence(string json, string sentence)
    {
        Refusal(json).Should().Be(sentence);
    }

    [Fact]
    public void ASignatureWithoutAKeyId_IsReadWithAnEmptyOne()
    {
        SignedEnvelope envelope = SignedEnvelope.Parse("""{"payloadType":"a","payload":"","signatures":[{"sig":"AAAA"}]}""");

        envelope.Signatures.Single().KeyId.Should().BeEmpty();
        envelope.Signatures.Single().Signature.ToArray().Should().Equal(0, 0, 0);
    }

    [Fact]
    public void AnEnvelopeCutShort_IsNotValidJson()
    {
        Refusal("""{"payloadType":"a","payload":""" + "\"\"").Should().StartWith("The envelope is not valid JSON:");
        Refusal("""{"payloadType":"a","payload":"","signatures":[]} {}""").Should().StartWith("The envelope is not valid JSON:");
    }

    [Fact]
    public void Deserialize_NamesAWrongType_AnEmptyPayload_AndAnInvalidOne()
    {
        FluentActions.Invoking(() => SecurityGroundRules.FromEnvelope(SignedEnvelope.Create(ServiceAuthorization.DocumentType, "{}"u8)))
            .Should().Throw<EnvelopeFormatException>()
            .WithMessage($"The envelope holds a '{ServiceAuthorization.DocumentType.PayloadType}', not a '{GroundRulesType.PayloadType}'.");
        FluentActions.Invoking(() => SecurityGroundRules.FromEnvelope(SignedEnvelope.Create(GroundRulesType, "null"u8)))
            .Should().Throw<EnvelopeFormatException>().WithMessage("The ground-rules payload is empty.");
        FluentActions.Invoking(() => SecurityGroundRules.FromEnvelope(SignedEnvelope.Create(GroundRulesType, "{"u8)))
            .Should().Throw<EnvelopeFormatException>().WithMessage("The ground-rules payload is not valid: *");
    }

    [Theory]
    [InlineData("a0", true)]
    [InlineData("a9", true)]
    [InlineData("a-z", true)]
    [InlineData("a/", false)]
    [InlineData("a:", false)]
    [InlineData("A", false)]
    [InlineData("", false)]
    public void ADocumentKind_IsLowercaseLettersDigitsAndHyphens(string kind, bool valid)
    {
        Action create = () => _ = new DocumentType(kind, 1);

        if (valid)
        {
            create.Should().NotThrow();
            DocumentType.TryParse(new DocumentType(kind, 1).PayloadType, out DocumentType? parsed).Should().BeTrue();
            parsed!.Kind.Should().Be(kind);
        }
        else
        {
            create.Should().Throw<ArgumentException>().WithMessage("A document kind is 1 to 64 lowercase letters, digits and hyphens.*");
            DocumentType.TryParse($"application/vnd.remotesupport.{kind}+json; version=1", out _).Should().BeFalse();
        }
    }

    [Fact]
    public void ADocumentKind_OfTheLongestLength_IsValid_OneLongerIsNot()
    {
        _ = new DocumentType(new string('k', 64), 1);
        FluentActions.Invoking(() => new DocumentType(new string('k', 65), 1)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new DocumentType("kind", 0)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("A document version is 1 or more.*");
    }

    [Theory]
    [InlineData("application/vnd.remotesupport.kind+json; version=123456789", true)]
    [InlineData("application/vnd.remotesupport.kind+json; version=1234567890", false)]
    [InlineData("application/vnd.remotesupport.kind+json; version=", false)]
    [InlineData("application/vnd.remotesupport.kind+json; version=01", false)]
    [InlineData("application/vnd.remotesupport.kind", false)]
    [InlineData("application/vnd.remotesupport.Kind+json; version=1", false)]
    public void TryParse_ReadsOnlyAPayloadTypeThisLibraryWrites(string payloadType, bool valid)
    {
        DocumentType.TryParse(payloadType, out DocumentType? type).Should().Be(valid);
        if (valid)
        {
            type!.Version.Should().Be(123456789);
        }
    }

    [Fact]
    public void ValidityWindow_AtItsEnd_HasExpired_AndOneSecondReadsAsOneSecond()
    {
        var until = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

        ValidityWindow.Outside("Authorization a-1", until.AddDays(-1), until, until).Should().StartWith("Authorization a-1 expired less than 1 s ago");
        ValidityWindow.Span(TimeSpan.FromSeconds(1)).Should().Be("1 s");
        ValidityWindow.Span(TimeSpan.FromMilliseconds(999)).Should().Be("less than 1 s");
    }
}
