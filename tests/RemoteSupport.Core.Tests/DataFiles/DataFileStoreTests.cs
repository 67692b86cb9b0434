using System.Security.Cryptography;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.GroundRules;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.DataFiles;

public sealed class DataFileStoreTests : IDisposable
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _root = new();
    private readonly TemporaryFolder _outside = new();
    private readonly DataFileStore _store;

    public DataFileStoreTests()
    {
        Directory.CreateDirectory(Path.Combine(_root.Path, "ledger", "2026"));
        File.WriteAllText(Path.Combine(_root.Path, "ledger", "2026", "ledger.db"), "balance=100");
        File.WriteAllText(_outside.File("secret.txt"), "not yours");
        _store = new DataFileStore(new Dictionary<string, string> { ["finance"] = _root.Path });
    }

    public void Dispose()
    {
        _f.Dispose();
        _root.Dispose();
        _outside.Dispose();
    }

    [Fact]
    public async Task View_ReturnsContentAndHash()
    {
        ConsentDecision granted = await GrantAsync(_f.Request());

        (byte[] content, DataFileEvidence evidence) = await _store.ViewAsync(granted);

        content.Should().Equal("balance=100"u8.ToArray());
        evidence.HashBefore.Should().Be(Convert.ToHexStringLower(SHA256.HashData(content)));
        evidence.Path.Should().Be("ledger/2026/ledger.db");
    }

    [Fact]
    public async Task Replace_IsAtomic_AndRecordsHashesBeforeAndAfter()
    {
        ConsentDecision granted = await GrantAsync(_f.Request(SupportOperation.ChangeData));

        DataFileEvidence evidence = await _store.ReplaceAsync(granted, "balance=120"u8.ToArray());

        string file = Path.Combine(_root.Path, "ledger", "2026", "ledger.db");
        (await File.ReadAllTextAsync(file)).Should().Be("balance=120");
        evidence.HashBefore.Should().Be(Convert.ToHexStringLower(SHA256.HashData("balance=100"u8)));
        evidence.HashAfter.Should().Be(Convert.ToHexStringLower(SHA256.HashData("balance=120"u8)));
        Directory.GetFiles(Path.GetDirectoryName(file)!).Should().ContainSingle("no temporary file is left");
    }

    [Fact]
    public async Task Create_AndDelete_RecordTheMissingSide()
    {
        ConsentDecision create = await GrantAsync(_f.Request(SupportOperation.ChangeData, path: "ledger/2026/new.db"));
        (await _store.ReplaceAsync(create, "x"u8.ToArray())).HashBefore.Should().BeNull();

        ConsentDecision delete = await GrantAsync(_f.Request(SupportOperation.ChangeData, path: "ledger/2026/new.db"));
        DataFileEvidence deleted = await _store.DeleteAsync(delete);

        deleted.HashAfter.Should().BeNull();
        File.Exists(Path.Combine(_root.Path, "ledger", "2026", "new.db")).Should().BeFalse();
    }

    [Fact]
    public async Task ViewDecision_CannotBeUsedToChange()
    {
        ConsentDecision view = await GrantAsync(_f.Request());

        var change = async () => await _store.ReplaceAsync(view, "evil"u8.ToArray());

        await change.Should().ThrowAsync<UnauthorizedAccessException>();
        (await File.ReadAllTextAsync(Path.Combine(_root.Path, "ledger", "2026", "ledger.db"))).Should().Be("balance=100");
    }

    [Fact]
    public async Task DeniedOrPendingDecision_ReadsNothing()
    {
        ConsentDecision needs = await _f.Gate().DecideAsync(_f.Request());

        var view = async () => await _store.ViewAsync(needs);

        await view.Should().ThrowAsync<UnauthorizedAccessException>();
    }

    [Fact]
    public async Task AGrantBuiltOrCopiedByHand_IsRefused_OnlyTheGatesOwnDecisionOpensAFile()
    {
        ConsentDecision pending = await _f.Gate().DecideAsync(_f.Request(SupportOperation.ChangeData));
        ConsentDecision forged = pending with { Outcome = ConsentOutcome.Granted, CanonicalPath = "ledger/2026/ledger.db" };
        ConsentDecision view = await GrantAsync(_f.Request());
        ConsentDecision copied = view with { Request = view.Request with { Operation = SupportOperation.ChangeData } };

        var withForged = async () => await _store.ReplaceAsync(forged, "evil"u8.ToArray());
        var withCopied = async () => await _store.ReplaceAsync(copied, "evil"u8.ToArray());

        (await withForged.Should().ThrowAsync<UnauthorizedAccessException>()).Which.Message.Should().Contain("not issued by a consent gate");
        (await withCopied.Should().ThrowAsync<UnauthorizedAccessException>()).Which.Message.Should().Contain("not issued by a consent gate");
        (await File.ReadAllTextAsync(Path.Combine(_root.Path, "ledger", "2026", "ledger.db"))).Should().Be("balance=100");
        (await _store.ViewAsync(view)).Content.Should().Equal("balance=100"u8.ToArray(), "the gate's own grant still works");
    }

    [Fact]
    public async Task SymbolicLinkEscapingTheRoot_IsRefused()
    {
        File.CreateSymbolicLink(Path.Combine(_root.Path, "ledger", "2026", "link.db"), _outside.File("secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(_root.Path, "ledger", "elsewhere"), _outside.Path);

        ConsentDecision viaFile = await GrantAsync(_f.Request(path: "ledger/2026/link.db"));
        ConsentDecision viaFolder = await GrantAsync(_f.Request(path: "ledger/elsewhere/secret.txt"));

        await FluentActions.Awaiting(() => _store.ViewAsync(viaFile)).Should().ThrowAsync<UnauthorizedAccessException>().WithMessage("*outside its data root*");
        await FluentActions.Awaiting(() => _store.ViewAsync(viaFolder)).Should().ThrowAsync<UnauthorizedAccessException>();
    }

    [Fact]
    public async Task SymbolicLinkInsideTheRoot_IsFollowed()
    {
        // A relative link that stays inside the root; the kernel resolves it beneath the root's folder.
        File.CreateSymbolicLink(Path.Combine(_root.Path, "ledger", "current.db"), "2026/ledger.db");

        (byte[] content, _) = await _store.ViewAsync(await GrantAsync(_f.Request(path: "ledger/current.db")));

        content.Should().Equal("balance=100"u8.ToArray());
    }

    [Fact]
    public async Task AbsoluteSymbolicLink_IsRefused_EvenWhenItNamesAFileInsideTheRoot()
    {
        // An absolute link cannot be resolved beneath the root by the kernel, so it is refused on Linux.
        File.CreateSymbolicLink(Path.Combine(_root.Path, "ledger", "current.db"), Path.Combine(_root.Path, "ledger", "2026", "ledger.db"));
        ConsentDecision granted = await GrantAsync(_f.Request(path: "ledger/current.db"));

        Func<Task> view = () => _store.ViewAsync(granted);

        if (OperatingSystem.IsLinux())
        {
            await view.Should().ThrowAsync<UnauthorizedAccessException>().WithMessage("*outside its data root*");
        }
        else
        {
            (await _store.ViewAsync(granted)).Content.Should().Equal("balance=100"u8.ToArray());
        }
    }

    [Theory]
    [InlineData("ledger/**", "ledger/a/b/c.db", true)]
    [InlineData("ledger/**", "ledger", true)]
    [InlineData("reports/*.csv", "reports/q1.csv", true)]
    [InlineData("reports/*.csv", "reports/q1.xlsx", false)]
    [InlineData("reports/*.csv", "reports/2026/q1.csv", false)]
    [InlineData("ledger/2026/ledger.db", "ledger/2026/ledger.db", true)]
    public void Patterns_Match(string pattern, string path, bool expected)
    {
        DataPath.Matches(pattern, path).Should().Be(expected);
    }

    private Task<ConsentDecision> GrantAsync(ConsentRequest request) => _f.GrantAsync(request);
}
