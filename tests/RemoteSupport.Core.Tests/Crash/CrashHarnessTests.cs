using RemoteSupport.CrashHarness;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Crash;

/// <summary>
/// The crash harness (docs/testing.md): workers killed with SIGKILL mid-work lose nothing acknowledged, and each
/// scenario's check finds the breakage it is there to find.
/// </summary>
public sealed class CrashHarnessTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task WorkersKilledMidWork_InEveryScenario_LoseNothingAcknowledged()
    {
        CrashReport report = await new CrashRun(_folder.Path, 20261203, CrashScenario.All, TextWriter.Null).RunAsync(9);

        report.Violations.Should().BeEmpty();
        report.Kills.Should().Be(9, "every worker was killed while it worked");
        report.Acknowledged.Values.Sum().Should().BePositive("the kills came after work was acknowledged");
        report.Summary.Should().Be("crash: 9 iterations, 9 kills, 0 violations, seed 20261203");
    }

    [Fact]
    public async Task TheJournalCheck_FindsAMissingRecord_AndOneNobodyWrote()
    {
        var scenario = new JournalScenario();
        await using (AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(Path.Combine(_folder.Path, "records.journal")))
        {
            await journal.AppendAsync(TaggedContent.Create(1, 4096));
            await journal.AppendAsync(TaggedContent.Create(2, 4096)[..^1]);
        }

        IReadOnlyList<string> violations = await scenario.CheckAsync(_folder.Path, ["1", "3"]);

        violations.Should().BeEquivalentTo(
            ["record 1 (" + (TaggedContent.Create(2, 4096).Length - 1) + " bytes) is not a record any writer wrote: torn or mixed", "the acknowledged record tagged 3 is missing (2 records)"]);
    }

    [Fact]
    public async Task TheDataFileCheck_FindsATornFile_AnOlderVersion_AndALostOne()
    {
        var scenario = new DataFileScenario();
        await scenario.PrepareAsync(_folder.Path);
        string data = Path.Combine(_folder.Path, "data");
        Directory.CreateDirectory(Path.Combine(data, "ledger"));
        await File.WriteAllBytesAsync(Path.Combine(data, "ledger", "books.dat"), TaggedContent.Create(5, 256 * 1024)[..^3]);
        await File.WriteAllBytesAsync(Path.Combine(data, "settings.dat"), TaggedContent.Create(6, 256 * 1024));

        IReadOnlyList<string> violations = await scenario.CheckAsync(_folder.Path, ["ledger/books.dat 5", "settings.dat 7", "ledger/2026/november.dat 8"]);

        violations.Should().HaveCount(3);
        violations.Should().Contain(v => v.StartsWith("ledger/books.dat (", StringComparison.Ordinal) && v.EndsWith("is not a whole version: torn or mixed", StringComparison.Ordinal));
        violations.Should().Contain("settings.dat holds version 6, older than the acknowledged 7");
        violations.Should().Contain("ledger/2026/november.dat is gone; version 8 was acknowledged");
    }

    [Fact]
    public async Task TheInstallCheck_FindsAFileBetweenVersions_AndAnAcknowledgedInstallWithoutAReceipt()
    {
        var scenario = new InstallScenario();
        await scenario.PrepareAsync(_folder.Path);
        await File.WriteAllTextAsync(Path.Combine(_folder.Path, "root", "notes.txt"), "half installed");

        IReadOnlyList<string> violations = await scenario.CheckAsync(_folder.Path, ["Installed 2.1.0"]);

        violations.Should().BeEquivalentTo(
            ["the install root is between versions: notes.txt is not as version (before any install) has it", "the audit journal holds 0 install receipts; 1 installs were acknowledged"]);
    }
}
