using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Tests.Fixes;

/// <summary>
/// The installer's guards: its arguments, a staged fix used once by its own installer and the right way, the lock a
/// staged fix holds, every consent that does not grant this very install, and which installed version counts.
/// </summary>
public sealed partial class FixInstallerTests
{
    private static readonly Func<CancellationToken, Task<bool>> Healthy = _ => Task.FromResult(true);

    private async Task<StagedFix> StageAsync(FixInstaller installer, string package, FixContext? context = null)
    {
        await using FileStream stream = File.OpenRead(package);
        return await installer.StageAsync(stream, _trust, context ?? _context, "session-1");
    }

    private async Task<string> BuildInvalidAsync()
    {
        string package = await BuildAsync();
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[^2] ^= 0x01;
        await File.WriteAllBytesAsync(package, bytes);
        return package;
    }

    [Fact]
    public void TheInstaller_NeedsAUnitIdentity_AndMakesItsWorkFolder()
    {
        FluentActions.Invoking(() => new FixInstaller(Root, Work, null!)).Should().Throw<ArgumentNullException>().WithParameterName("unitIdentity");

        var installer = new FixInstaller(Root, Work, _unit, _time);

        Directory.Exists(Work).Should().BeTrue();
        installer.InstalledVersion("ledger").Should().BeNull("nothing was installed yet");
    }

    [Fact]
    public async Task NullArguments_AreMisuse()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        using var stream = new MemoryStream();

        await FluentActions.Awaiting(() => installer.InstallAsync(stream, _trust, _context, null!, Healthy, "session-1")).Should().ThrowAsync<ArgumentNullException>().WithParameterName("consent");
        await FluentActions.Awaiting(() => installer.InstallAsync(stream, _trust, _context, Grant(null), null!, "session-1")).Should().ThrowAsync<ArgumentNullException>().WithParameterName("healthCheck");
        await FluentActions.Awaiting(() => installer.StageAsync(null!, _trust, _context, "session-1")).Should().ThrowAsync<ArgumentNullException>().WithParameterName("package");
        await FluentActions.Awaiting(() => installer.StageAsync(stream, _trust, null!, "session-1")).Should().ThrowAsync<ArgumentNullException>().WithParameterName("context");
        await FluentActions.Awaiting(() => installer.RefuseAsync(null!)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("staged");
        await FluentActions.Awaiting(() => installer.InstallAsync(null!, Grant(null), Healthy, CancellationToken.None)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("staged");
        await using StagedFix staged = await StageAsync(installer, await BuildAsync());
        await FluentActions.Awaiting(() => installer.InstallAsync(staged, null!, Healthy, CancellationToken.None)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("consent");
        await FluentActions.Awaiting(() => installer.InstallAsync(staged, Grant(null), null!, CancellationToken.None)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("healthCheck");
    }

    [Fact]
    public async Task AStagedFixThatVerified_IsInstalledOnce_ByItsOwnInstaller_AndNeverRefused()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        var other = new FixInstaller(Root, Path.Combine(_folder.Path, "other-work"), _unit, _time);
        await using StagedFix staged = await StageAsync(installer, await BuildAsync());
        staged.Verification.IsValid.Should().BeTrue(staged.Verification.Sentence);

        await FluentActions.Awaiting(() => installer.RefuseAsync(staged)).Should().ThrowAsync<ArgumentException>().WithParameterName("staged");
        await FluentActions.Awaiting(() => other.InstallAsync(staged, Grant(null), Healthy, CancellationToken.None)).Should().ThrowAsync<ArgumentException>().WithParameterName("staged");
        InstallReceipt receipt = InstallReceipt.FromEnvelope(await installer.InstallAsync(staged, Grant(null), Healthy, CancellationToken.None));
        receipt.Outcome.Should().Be(InstallResult.Installed, receipt.Reason);

        await FluentActions.Awaiting(() => installer.InstallAsync(staged, Grant(null), Healthy, CancellationToken.None)).Should().ThrowAsync<ArgumentException>()
            .WithMessage("This staged fix was installed, refused or disposed already.*").WithParameterName("staged");
    }

    [Fact]
    public async Task AStagedFixThatDidNotVerify_IsRefusedOnce_ByItsOwnInstaller_AndNeverInstalled()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        var other = new FixInstaller(Root, Path.Combine(_folder.Path, "other-work"), _unit, _time);
        await using StagedFix staged = await StageAsync(installer, await BuildInvalidAsync());
        staged.Verification.IsValid.Should().BeFalse();

        await FluentActions.Awaiting(() => installer.InstallAsync(staged, Grant(null), Healthy, CancellationToken.None)).Should().ThrowAsync<ArgumentException>().WithParameterName("staged");
        await FluentActions.Awaiting(() => other.RefuseAsync(staged)).Should().ThrowAsync<ArgumentException>().WithParameterName("staged");
        InstallReceipt receipt = InstallReceipt.FromEnvelope(await installer.RefuseAsync(staged));
        receipt.Outcome.Should().Be(InstallResult.Refused);
        receipt.Reason.Should().Be(staged.Verification.Sentence);

        await FluentActions.Awaiting(() => installer.RefuseAsync(staged)).Should().ThrowAsync<ArgumentException>().WithMessage("This staged fix was installed, refused or disposed already.*");
        Snapshot().Should().BeEquivalentTo(_before);
        Directory.GetDirectories(Work, "tx-*").Should().BeEmpty("the refusal drops the staging");
    }

    [Fact]
    public async Task AStagedFix_HoldsTheInstallLock_UntilItIsDisposed_ThenDropsItsStaging()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        string package = await BuildAsync();
        StagedFix staged = await StageAsync(installer, package);

        await FluentActions.Awaiting(() => StageAsync(installer, package)).Should().ThrowAsync<FixInstallBusyException>();
        Directory.GetDirectories(Work, "tx-*").Should().ContainSingle("the busy attempt leaves no staging of its own");
        await staged.DisposeAsync();

        Directory.GetDirectories(Work, "tx-*").Should().BeEmpty();
        await using StagedFix again = await StageAsync(installer, package);
        again.Verification.IsValid.Should().BeTrue("the lock is free again");
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Theory]
    [InlineData("denied")]
    [InlineData("not issued by a gate")]
    [InlineData("for another operation")]
    [InlineData("for another session")]
    [InlineData("under an approval that names no package")]
    public async Task AConsentThatDoesNotGrantThisInstall_IsRefused_AndChangesNothing(string flaw)
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        await using StagedFix staged = await StageAsync(installer, await BuildAsync());
        ConsentDecision grant = Grant(null);
        ConsentDecision consent = flaw switch
        {
            "denied" => ConsentGate.IssueForTest(grant with { Outcome = ConsentOutcome.Denied, Sentence = "denied" }),
            "not issued by a gate" => grant with { },
            "for another operation" => ConsentGate.IssueForTest(grant with { Request = grant.Request with { Operation = SupportOperation.ChangeData } }),
            "for another session" => ConsentGate.IssueForTest(grant with { Request = grant.Request with { SessionId = "session-2" } }),
            _ => ConsentGate.IssueForTest(grant with { ApprovalsUsed = ["appr-1"] }),
        };

        InstallReceipt receipt = InstallReceipt.FromEnvelope(await installer.InstallAsync(staged, consent, Healthy, CancellationToken.None));

        receipt.Outcome.Should().Be(InstallResult.Refused);
        receipt.Reason.Should().Be($"No consent decision grants installing this package ({consent.Outcome}: {consent.Sentence}).");
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task AConsentUnderAnApprovalThatBindsThisPackage_Installs()
    {
        var installer = new FixInstaller(Root, Work, _unit, _time);
        await using StagedFix staged = await StageAsync(installer, await BuildAsync());
        ConsentDecision consent = ConsentGate.IssueForTest(Grant(staged.Verification.PackageHash) with { ApprovalsUsed = ["appr-1"] });

        InstallReceipt receipt = InstallReceipt.FromEnvelope(await installer.InstallAsync(staged, consent, Healthy, CancellationToken.None));

        receipt.Outcome.Should().Be(InstallResult.Installed, receipt.Reason);
        receipt.PackageHash.Should().Be(staged.Verification.PackageHash);
    }

    [Theory]
    [InlineData("2.3.0", "2.4.0")] // the unit's own report lags behind the installer's record
    [InlineData("2.5.0", "2.5.0")] // the unit's own report is ahead of it
    [InlineData(null, "2.4.0")] // the unit reports none
    public async Task TheInstalledVersion_IsTheHigherOfTheUnitsReportAndTheInstallersRecord(string? reported, string counted)
    {
        string package = await BuildAsync();
        var installer = new FixInstaller(Root, Work, _unit, _time);
        (await InstallAsync(installer, package, () => true)).Outcome.Should().Be(InstallResult.Installed);
        installer.InstalledVersion("ledger").Should().Be("2.4.0");

        await using StagedFix again = await StageAsync(installer, package, _context with { InstalledVersion = reported });

        again.Verification.Reason.Should().Be(FixRefusal.Rollback);
        again.Verification.Sentence.Should().Be($"2.4.0 is not above the installed {counted}.");
    }
}
