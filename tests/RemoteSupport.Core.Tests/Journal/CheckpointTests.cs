using System.Text;
using RemoteSupport.Identities;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

public sealed class CheckpointTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly PartyIdentity _unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);

    public void Dispose()
    {
        _folder.Dispose();
        _unit.Dispose();
    }

    [Fact]
    public void SignedNote_HasTheC2spShape_AndVerifies()
    {
        var checkpoint = new Checkpoint("fabrikam.example/unit-7/audit", 42, MerkleTree.LeafHash("x"u8));

        string note = checkpoint.Sign("unit-7", _unit);

        string[] lines = note.Split('\n');
        lines[0].Should().Be("fabrikam.example/unit-7/audit");
        lines[1].Should().Be("42");
        Convert.FromBase64String(lines[2]).Should().Equal(checkpoint.Root);
        lines[3].Should().BeEmpty();
        lines[4].Should().StartWith("\u2014 unit-7 ");
        Convert.FromBase64String(lines[4]["\u2014 unit-7 ".Length..]).Should().HaveCount(68);
        Checkpoint.TryVerify(note, "unit-7", _unit.PublicKey, out Checkpoint? parsed, out _).Should().BeTrue();
        parsed!.Size.Should().Be(42);
    }

    [Fact]
    public void AlteredSizeOrOtherKey_FailsVerification()
    {
        string note = new Checkpoint("o", 42, MerkleTree.LeafHash("x"u8)).Sign("unit-7", _unit);
        using var other = PartyIdentity.Create("fabrikam", PartyRole.Unit);

        Checkpoint.TryVerify(note.Replace("\n42\n", "\n43\n", StringComparison.Ordinal), "unit-7", _unit.PublicKey, out _, out string error).Should().BeFalse();
        error.Should().Contain("No valid signature");
        Checkpoint.TryVerify(note, "unit-7", other.PublicKey, out _, out _).Should().BeFalse();
    }

    [Fact]
    public async Task OfflineVerifier_AcceptsTheExport_AndNamesAFlippedRecord()
    {
        string export = _folder.File("export.journal");
        string note;
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("audit.journal")))
        {
            for (int i = 0; i < 5; i++)
            {
                await journal.AppendAsync(Encoding.UTF8.GetBytes($"{{\"event\":\"file-viewed\",\"n\":{i}}}"));
            }

            note = new Checkpoint("fabrikam.example/unit-7/audit", journal.Count, journal.Root()).Sign("unit-7", _unit);
            await journal.ExportAsync(export);
        }

        (await JournalVerifier.VerifyAsync(export, note, "unit-7", _unit.PublicKey)).IsValid.Should().BeTrue();

        byte[] bytes = await File.ReadAllBytesAsync(export);
        bytes[^3] ^= 0x01; // inside the last record's payload
        await File.WriteAllBytesAsync(export, bytes);
        JournalVerification tampered = await JournalVerifier.VerifyAsync(export, note, "unit-7", _unit.PublicKey);

        tampered.IsValid.Should().BeFalse();
        tampered.Reason.Should().Be(JournalVerificationFailure.DamagedRecord);
        tampered.Sentence.Should().Contain("Record 4");
    }

    [Fact]
    public async Task OfflineVerifier_NamesWhyAnExportDoesNotMatch()
    {
        string export = _folder.File("export.journal");
        byte[] root;
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(_folder.File("audit.journal")))
        {
            for (int i = 0; i < 3; i++)
            {
                await journal.AppendAsync(Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"));
            }

            root = journal.Root();
            await journal.ExportAsync(export);
        }

        using var other = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        string otherRoot = new Checkpoint("o", 3, MerkleTree.LeafHash("x"u8)).Sign("unit-7", _unit);
        string longer = new Checkpoint("o", 4, root).Sign("unit-7", _unit);
        string byAnother = new Checkpoint("o", 3, root).Sign("unit-7", other);

        (await JournalVerifier.VerifyAsync(export, otherRoot, "unit-7", _unit.PublicKey)).Reason.Should().Be(JournalVerificationFailure.RootMismatch);
        (await JournalVerifier.VerifyAsync(export, longer, "unit-7", _unit.PublicKey)).Reason.Should().Be(JournalVerificationFailure.TooFewRecords);
        (await JournalVerifier.VerifyAsync(export, byAnother, "unit-7", _unit.PublicKey)).Reason.Should().Be(JournalVerificationFailure.BadCheckpoint);
        JournalVerification valid = await JournalVerifier.VerifyAsync(export, new Checkpoint("o", 3, root).Sign("unit-7", _unit), "unit-7", _unit.PublicKey);
        (valid.IsValid, valid.Reason, valid.RecordCount).Should().Be((true, JournalVerificationFailure.None, 3L));
    }

    [Fact]
    public void AnOriginWithALineBreak_IsNotSigned()
    {
        var forged = new Checkpoint("o\n999\n" + Convert.ToBase64String(new byte[32]), 3, MerkleTree.LeafHash("x"u8));

        FluentActions.Invoking(() => forged.Sign("unit-7", _unit)).Should().Throw<ArgumentException>().WithMessage("*one non-empty line*");
    }
}
