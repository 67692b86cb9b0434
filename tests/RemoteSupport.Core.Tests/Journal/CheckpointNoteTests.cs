using System.Security.Cryptography;
using System.Text;
using RemoteSupport.Identities;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

/// <summary>
/// The signed note of a checkpoint (docs/formats/journal.md) at its edges: each malformed note refused by its sentence,
/// the note's size limit at its boundary, which signature lines count, the key hash as C2SP defines it, the key names a
/// note may carry, and the offline verifier's sentences.
/// </summary>
public sealed class CheckpointNoteTests : IDisposable
{
    private const string NotANote = "The checkpoint is not a signed note (no blank line before the signatures).";
    private const string BadBody = "The checkpoint body needs an origin, a decimal tree size and a root hash.";
    private readonly TemporaryFolder _folder = new();
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly PartyIdentity _other = PartyIdentity.Create("fabrikam", PartyRole.Unit);
    private readonly Checkpoint _checkpoint = new("fabrikam.example/unit-7/audit", 42, MerkleTree.LeafHash("x"u8));

    public void Dispose()
    {
        _folder.Dispose();
        _unit.Dispose();
        _other.Dispose();
    }

    private string NoSignature => $"No valid signature by 'unit-7' ({_unit.PublicKey.KeyId}) on the checkpoint.";

    private (bool Verified, string Error) Verify(string note) =>
        (Checkpoint.TryVerify(note, "unit-7", _unit.PublicKey, out _, out string error), error);

    [Fact]
    public void TheBody_IsOriginSizeAndRoot_EachOnItsLine()
    {
        _checkpoint.Body.Should().Be($"fabrikam.example/unit-7/audit\n42\n{Convert.ToBase64String(_checkpoint.Root)}\n");
    }

    [Fact]
    public void TheKeyHash_IsTheFirstFourBytesOfSha256OfTheNameANewlineTheAlgorithmByteAndTheKey()
    {
        byte[] expected = SHA256.HashData([.. "unit-7\n"u8, 0x01, .. _unit.PublicKey.RawKey])[..4];

        Checkpoint.KeyHash("unit-7", _unit.PublicKey).Should().Equal(expected);
        FluentActions.Invoking(() => Checkpoint.KeyHash(null!, _unit.PublicKey)).Should().Throw<ArgumentNullException>().WithParameterName("keyName");
        FluentActions.Invoking(() => Checkpoint.KeyHash("unit-7", null!)).Should().Throw<ArgumentNullException>().WithParameterName("key");
    }

    [Theory]
    [InlineData("")]
    [InlineData("unit 7")]
    [InlineData("unit+7")]
    [InlineData("unit\t7")]
    public void AKeyName_IsNonEmpty_WithoutSpacesOrPlus(string keyName)
    {
        FluentActions.Invoking(() => _checkpoint.Sign(keyName, _unit)).Should().Throw<ArgumentException>()
            .WithParameterName("keyName").WithMessage("A note key name is non-empty, without spaces or '+'.*");
    }

    [Fact]
    public void SigningNeedsAnOrigin_AndASigner()
    {
        FluentActions.Invoking(() => (_checkpoint with { Origin = "" }).Sign("unit-7", _unit)).Should().Throw<ArgumentException>().WithParameterName("Origin");
        FluentActions.Invoking(() => _checkpoint.Sign("unit-7", null!)).Should().Throw<ArgumentNullException>().WithParameterName("signer");
    }

    [Fact]
    public void AMalformedNote_IsRefused_ByItsSentence()
    {
        string note = _checkpoint.Sign("unit-7", _unit);
        string signatures = note[(note.IndexOf("\n\n", StringComparison.Ordinal) + 1)..];
        string root = Convert.ToBase64String(_checkpoint.Root);

        Verify(note.Replace("\n\n", "\n", StringComparison.Ordinal)).Should().Be((false, NotANote));
        Verify("o\n42\n" + signatures).Should().Be((false, BadBody), "the root line is missing");
        foreach (string size in new[] { "+42", " 42", "-1", "4a", "" })
        {
            Verify($"o\n{size}\n{root}\n" + signatures).Should().Be((false, BadBody), $"'{size}' is not a decimal size");
        }

        Verify("o\n42\nnot*base64\n" + signatures).Should().Be((false, "The checkpoint's root hash is not base64."));
        Verify($"o\n42\n{Convert.ToBase64String(new byte[31])}\n" + signatures).Should().Be((false, "The checkpoint's root hash is not 32 bytes."));
        FluentActions.Invoking(() => Checkpoint.TryVerify(null!, "unit-7", _unit.PublicKey, out _, out _)).Should().Throw<ArgumentNullException>().WithParameterName("note");
        FluentActions.Invoking(() => Checkpoint.TryVerify(note, "unit-7", null!, out _, out _)).Should().Throw<ArgumentNullException>().WithParameterName("key");
    }

    [Fact]
    public void ANoteOfAtMost64KiB_IsRead_AndALongerOneIsNot()
    {
        string note = _checkpoint.Sign("unit-7", _unit);
        string filler = "\u2014 padding " + new string('A', 100) + "\n";
        string longest = note + string.Concat(Enumerable.Repeat(filler, (64 * 1024 - note.Length) / filler.Length));
        longest += new string('\n', (64 * 1024) - longest.Length);

        longest.Length.Should().Be(64 * 1024);
        Verify(longest).Should().Be((true, string.Empty));
        Verify(longest + "\n").Should().Be((false, NotANote));
    }

    [Fact]
    public void OnlyALineOfTheKeyNameWithTheKeysHashAndAValidSignature_Counts()
    {
        string note = _checkpoint.Sign("unit-7", _unit);
        int split = note.IndexOf("\n\n", StringComparison.Ordinal) + 2;
        string body = note[..split];
        string line = note[split..].TrimEnd('\n');
        byte[] value = Convert.FromBase64String(line["\u2014 unit-7 ".Length..]);
        byte[] wrongHash = [.. value];
        wrongHash[0] ^= 0x01;
        string byOther = _checkpoint.Sign("unit-7", _other)[split..];
        string underOtherName = _checkpoint.Sign("unit-8", _unit)[split..];

        Verify(body + "\u2014 unit-7 " + Convert.ToBase64String(wrongHash) + "\n").Should().Be((false, NoSignature), "the key hash names another key");
        Verify(body + "\u2014 unit-7 " + Convert.ToBase64String(value[..^1]) + "\n").Should().Be((false, NoSignature), "a signature is 64 bytes");
        Verify(body + byOther).Should().Be((false, NoSignature));
        Verify(body + underOtherName).Should().Be((false, NoSignature));
        Verify(body + "\u2014 unit-7 not*base64\n" + byOther + line + "\n").Should().Be((true, string.Empty), "lines that do not count are passed over");
        Checkpoint.TryVerify(body + byOther + line + "\n", "unit-7", _unit.PublicKey, out Checkpoint? parsed, out _).Should().BeTrue();
        parsed.Should().BeEquivalentTo(_checkpoint);
    }

    [Fact]
    public void AKeysSignature_IsFoundUnderAnyKeyNameTheNoteCarries()
    {
        string note = _checkpoint.Sign("unit-7", _unit);
        int split = note.IndexOf("\n\n", StringComparison.Ordinal) + 2;
        string noise = "\u2014 two-parts\nnot-a-signature-line x y\n";
        string byOther = _checkpoint.Sign("unit-9", _other)[split..];

        Checkpoint.TryVerifyBy(note[..split] + noise + byOther + note[split..], _unit.PublicKey, out Checkpoint? parsed, out string keyName, out string error).Should().BeTrue(error);
        keyName.Should().Be("unit-7");
        parsed.Should().BeEquivalentTo(_checkpoint);

        Checkpoint.TryVerifyBy(note[..split] + noise, _unit.PublicKey, out _, out keyName, out error).Should().BeFalse();
        error.Should().Be($"No valid signature by {_unit.PublicKey.KeyId} on the checkpoint.");
        keyName.Should().BeEmpty();
        Checkpoint.TryVerifyBy(note[..split] + byOther, _unit.PublicKey, out _, out _, out error).Should().BeFalse();
        error.Should().Be($"No valid signature by 'unit-9' ({_unit.PublicKey.KeyId}) on the checkpoint.", "the last line tried says why it did not count");
        Checkpoint.TryVerifyBy(note.Replace("\n\n", "\n", StringComparison.Ordinal), _unit.PublicKey, out _, out _, out error).Should().BeFalse();
        error.Should().Be(NotANote);
    }

    [Fact]
    public async Task TheOfflineVerifier_SaysWhatItVerified_OrWhyNot()
    {
        string export = _folder.File("export.journal");
        byte[] root;
        byte[] rootOfTwo;
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("audit.journal")))
        {
            for (int i = 0; i < 3; i++)
            {
                await journal.AppendAsync(Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"));
            }

            rootOfTwo = journal.Root(2);
            root = journal.Root();
            await journal.ExportAsync(export);
        }

        JournalVerification all = await JournalVerifier.VerifyAsync(export, new Checkpoint("o", 3, root).Sign("unit-7", _unit), "unit-7", _unit.PublicKey);
        JournalVerification prefix = await JournalVerifier.VerifyAsync(export, new Checkpoint("o", 2, rootOfTwo).Sign("unit-7", _unit), "unit-7", _unit.PublicKey);
        JournalVerification tooFew = await JournalVerifier.VerifyAsync(export, new Checkpoint("o", 4, root).Sign("unit-7", _unit), "unit-7", _unit.PublicKey);
        JournalVerification altered = await JournalVerifier.VerifyAsync(export, new Checkpoint("o", 3, rootOfTwo).Sign("unit-7", _unit), "unit-7", _unit.PublicKey);
        JournalVerification unsigned = await JournalVerifier.VerifyAsync(export, new Checkpoint("o", 3, root).Sign("unit-7", _other), "unit-7", _unit.PublicKey);

        all.Should().Be(new JournalVerification(JournalVerificationFailure.None, 3, "The first 3 records match the checkpoint of o."));
        prefix.Should().Be(new JournalVerification(JournalVerificationFailure.None, 3, "The first 2 records match the checkpoint of o."), "a journal only grows past its checkpoint");
        tooFew.Should().Be(new JournalVerification(JournalVerificationFailure.TooFewRecords, 3, "The export holds 3 records; the checkpoint covers 4."));
        altered.Should().Be(new JournalVerification(JournalVerificationFailure.RootMismatch, 3, "The first 3 records do not match the checkpoint's root: the journal was altered."));
        unsigned.Should().Be(new JournalVerification(JournalVerificationFailure.BadCheckpoint, 0, NoSignature));
    }
}
