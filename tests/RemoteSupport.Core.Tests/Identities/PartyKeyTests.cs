using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Identities;

public class PartyKeyTests
{
    [Fact]
    public void TextForm_RoundTrips()
    {
        using var identity = PartyIdentity.Create("contoso", PartyRole.Vendor);
        string text = identity.PublicKey.ToString();

        text.Should().StartWith("ed25519:").And.HaveLength("ed25519:".Length + 43);
        PartyKey parsed = PartyKey.Parse(text);
        parsed.Should().Be(identity.PublicKey);
        parsed.KeyId.Should().Be(identity.PublicKey.KeyId);
    }

    [Fact]
    public void KeyIdAndFingerprint_AreDerivedFromTheKey()
    {
        using var a = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var b = PartyIdentity.Create("contoso", PartyRole.Vendor);

        a.PublicKey.KeyId.Should().MatchRegex("^[0-9a-f]{32}$");
        a.PublicKey.Fingerprint.Should().MatchRegex("^([A-Z2-7]{4}-){7}[A-Z2-7]{4}$");
        a.PublicKey.KeyId.Should().NotBe(b.PublicKey.KeyId);
        a.PublicKey.Fingerprint.Should().NotBe(b.PublicKey.Fingerprint);
        PartyKey.FromRaw(a.PublicKey.RawKey).Fingerprint.Should().Be(a.PublicKey.Fingerprint);
    }

    [Fact]
    public void Fingerprint_MatchesSha256InBase32()
    {
        // The all-zero-point is not importable; use a real key and recompute independently.
        using var identity = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        byte[] hash = System.Security.Cryptography.SHA256.HashData(identity.PublicKey.RawKey);
        string expected = Base32(hash.AsSpan(0, 20));

        identity.PublicKey.Fingerprint.Replace("-", "", StringComparison.Ordinal).Should().Be(expected);
        identity.PublicKey.KeyId.Should().Be(Convert.ToHexStringLower(hash.AsSpan(0, 16)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ed25519:")]
    [InlineData("ed448:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ed25519:!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void Parse_NotAKey_ThrowsFormatException(string text)
    {
        PartyKey.TryParse(text, out _).Should().BeFalse();
        FluentActions.Invoking(() => PartyKey.Parse(text)).Should().Throw<FormatException>().WithMessage("*not a public key*");
    }

    [Fact]
    public void FromRaw_WrongLength_ThrowsNamingTheParameter()
    {
        FluentActions.Invoking(() => PartyKey.FromRaw(new byte[31])).Should().Throw<ArgumentException>()
            .Which.ParamName.Should().Be("rawKey");
    }

    [Fact]
    public void Create_BadPartyId_ThrowsNamingTheParameter()
    {
        FluentActions.Invoking(() => PartyIdentity.Create(" ", PartyRole.Vendor)).Should().Throw<ArgumentException>()
            .Which.ParamName.Should().Be("partyId");
        FluentActions.Invoking(() => PartyIdentity.Create("a\nb", PartyRole.Vendor)).Should().Throw<ArgumentException>()
            .Which.ParamName.Should().Be("partyId");
        FluentActions.Invoking(() => PartyIdentity.Create("a", (PartyRole)42)).Should().Throw<ArgumentOutOfRangeException>()
            .Which.ParamName.Should().Be("role");
    }

    [Fact]
    public void Sign_VerifiesWithPublicKeyOnly()
    {
        using var identity = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        byte[] data = "approve change of ledger.db"u8.ToArray();
        byte[] signature = identity.Sign(data);

        identity.PublicKey.Verify(data, signature).Should().BeTrue();
        data[0] ^= 1;
        identity.PublicKey.Verify(data, signature).Should().BeFalse();
    }

    private static string Base32(ReadOnlySpan<byte> bytes)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bits = new System.Text.StringBuilder();
        foreach (byte b in bytes)
        {
            bits.Append(Convert.ToString(b, 2).PadLeft(8, '0'));
        }

        var text = new System.Text.StringBuilder();
        for (int i = 0; i + 5 <= bits.Length; i += 5)
        {
            text.Append(Alphabet[Convert.ToInt32(bits.ToString(i, 5), 2)]);
        }

        return text.ToString();
    }
}
