using RemoteSupport.Consent;
using RemoteSupport.Fixes;

namespace RemoteSupport.Tests.Fixes;

/// <summary>
/// A fix pushed over a session, as the agent receives it (<see cref="FixReception"/>): exactly the announced length into
/// the inbox, verified once, consent asked for its hash, installed or refused; the inbox empty afterwards, whatever happened.
/// </summary>
public sealed partial class FixInstallerTests
{
    private readonly List<string> _consentAsked = [];
    private readonly List<string[]> _inboxWhileAsked = [];

    private string Inbox => Path.Combine(_folder.Path, "inbox");

    private FixInstallOptions Reception(Func<bool>? healthy = null, long? maxPackageBytes = null, string? inbox = null)
    {
        var options = new FixInstallOptions { Trust = _trust, Installer = new FixInstaller(Root, Work, _unit, _time), Context = () => _context, Inbox = inbox ?? Inbox };
        options.HealthCheck = _ => Task.FromResult(healthy?.Invoke() ?? true);
        options.MaxPackageBytes = maxPackageBytes ?? options.MaxPackageBytes;
        return options;
    }

    private async Task<FixReceived> ReceiveAsync(FixInstallOptions options, Stream source, long announced, Func<string, (ConsentDecision, string)>? decide = null) =>
        await new FixReception(options).ReceiveAsync(source, announced, "session-1", (hash, _) =>
        {
            _consentAsked.Add(hash);
            _inboxWhileAsked.Add(Directory.GetFiles(Inbox));
            return Task.FromResult(decide?.Invoke(hash) ?? (Grant(hash), "none"));
        }, CancellationToken.None);

    private async Task<FixReceived> ReceiveAsync(FixInstallOptions options, byte[] package, long? announced = null, Func<string, (ConsentDecision, string)>? decide = null)
    {
        using var source = new MemoryStream(package);
        return await ReceiveAsync(options, source, announced ?? package.Length, decide);
    }

    private string[] InboxFiles() => Directory.Exists(Inbox) ? Directory.GetFiles(Inbox) : [];

    [Fact]
    public async Task APushedPackage_IsVerifiedOnce_ConsentedForItsHash_AndInstalled()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());

        FixReceived received = await ReceiveAsync(Reception(), package);

        received.Installed.Should().BeTrue(received.Sentence);
        received.Code.Should().Be("none");
        received.Target.Should().Be("ledger-fix-2.4.0 2.4.0");
        received.PackageHash.Should().HaveLength(64);
        _consentAsked.Should().Equal(received.PackageHash);
        InstallReceipt receipt = InstallReceipt.FromEnvelope(received.Receipt!);
        receipt.Outcome.Should().Be(InstallResult.Installed);
        received.Sentence.Should().Be(receipt.Reason);
        (await File.ReadAllTextAsync(Path.Combine(Root, "bin", "app.dll"))).Should().Be("new app");
        _inboxWhileAsked.Should().ContainSingle().Which.Should().ContainSingle()
            .Which.Should().MatchRegex(@"session-1-[0-9a-f]{32}\.rsfix$", "the unit names the inbox file");
        InboxFiles().Should().BeEmpty("the inbox copy is removed after");
    }

    [Fact]
    public async Task APackageOfExactlyTheLargestLength_IsTaken_AndNoLengthOutside1ToTheLargest()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());

        FixReceived over = await ReceiveAsync(Reception(maxPackageBytes: package.Length - 1), package);
        FixReceived empty = await ReceiveAsync(Reception(), package, announced: 0);
        FixReceived negative = await ReceiveAsync(Reception(), package, announced: -1);

        over.Code.Should().Be("package-too-large");
        over.Sentence.Should().Be($"A package of {package.Length} bytes is refused; this unit takes 1 to {package.Length - 1} bytes.");
        over.Target.Should().Be("package");
        over.Receipt.Should().BeNull();
        empty.Code.Should().Be("package-too-large");
        negative.Code.Should().Be("package-too-large");
        _consentAsked.Should().BeEmpty();
        Directory.Exists(Inbox).Should().BeFalse("a refused length is refused before a byte is read");
        Snapshot().Should().BeEquivalentTo(_before);

        (await ReceiveAsync(Reception(maxPackageBytes: package.Length), package)).Installed.Should().BeTrue();
    }

    [Fact]
    public async Task AStreamThatEndsBeforeItsAnnouncedLength_IsTruncated_AndLeavesTheInboxEmpty()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());

        FixReceived received = await ReceiveAsync(Reception(), package, announced: package.Length + 1);

        received.Installed.Should().BeFalse();
        received.Code.Should().Be("package-truncated");
        received.Sentence.Should().Be("The package stream ended before its announced length.");
        received.PackageHash.Should().BeNull();
        _consentAsked.Should().BeEmpty();
        InboxFiles().Should().BeEmpty();
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task ALineThatDropsDuringTheTransfer_EndsTheReception_AndLeavesTheInboxEmpty()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());
        using var dropping = new DroppingStream(package[..1000]);

        await FluentActions.Awaiting(() => ReceiveAsync(Reception(), dropping, package.Length)).Should().ThrowAsync<IOException>().WithMessage("the line dropped");

        InboxFiles().Should().BeEmpty();
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task AnInvalidPackage_IsRefusedWithASignedReceipt_BeforeConsentIsAsked()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());
        package[^2] ^= 0x01;

        FixReceived received = await ReceiveAsync(Reception(), package);

        received.Installed.Should().BeFalse();
        received.Code.Should().Be("fix-hash-mismatch");
        received.Sentence.Should().Contain("does not match");
        received.Target.Should().Be("ledger-fix-2.4.0 2.4.0", "the manifest was read before the payload failed");
        InstallReceipt.FromEnvelope(received.Receipt!).Outcome.Should().Be(InstallResult.Refused);
        _consentAsked.Should().BeEmpty("nothing is asked of the customer for a package that does not verify");
        InboxFiles().Should().BeEmpty();
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task ADeniedConsent_InstallsNothing_AndReportsTheGatesCodeAndSentence()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());

        FixReceived received = await ReceiveAsync(Reception(), package,
            decide: hash => (Grant(hash) with { Outcome = ConsentOutcome.Denied, Sentence = "The approver refused the request." }, "approval-refused"));

        received.Installed.Should().BeFalse();
        received.Code.Should().Be("approval-refused");
        received.Sentence.Should().Be("The approver refused the request.");
        received.Receipt.Should().BeNull();
        received.PackageHash.Should().Be(_consentAsked.Single());
        InboxFiles().Should().BeEmpty();
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task AFailedHealthCheck_RollsBack_AndIsReportedAsSuch()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());

        FixReceived received = await ReceiveAsync(Reception(healthy: () => false), package);

        received.Installed.Should().BeFalse();
        received.Code.Should().Be("fix-rolled-back");
        InstallReceipt.FromEnvelope(received.Receipt!).Outcome.Should().Be(InstallResult.RolledBack);
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task AnInboxThatCannotBeWritten_IsAFailedInstall()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());
        string notAFolder = Path.Combine(_folder.Path, "inbox-file");
        await File.WriteAllTextAsync(notAFolder, "a file where the inbox should be");

        FixReceived received = await ReceiveAsync(Reception(inbox: notAFolder), package);

        received.Installed.Should().BeFalse();
        received.Code.Should().Be("failed");
        received.Sentence.Should().Be("The unit could not store the package in its inbox.");
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task ABusyInstaller_IsAFailedInstall_NamingWhy_AndTheInboxIsEmptied()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());
        Directory.CreateDirectory(Work);
        FixReceived received;
        using (new FileStream(Path.Combine(Work, "install.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            received = await ReceiveAsync(Reception(), package);
        }

        received.Installed.Should().BeFalse();
        received.Code.Should().Be("failed");
        received.Sentence.Should().StartWith("The install failed on the unit: ").And.Contain("Another install or recovery is running");
        InboxFiles().Should().BeEmpty();
        Snapshot().Should().BeEquivalentTo(_before);
    }

    [Fact]
    public async Task TheReception_ReadsExactlyTheAnnouncedLength_LeavingWhatFollowsOnTheLine()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());
        byte[] next = "the next message"u8.ToArray();
        using var line = new MemoryStream([.. package, .. next]);

        FixReceived received = await ReceiveAsync(Reception(), line, package.Length);

        received.Installed.Should().BeTrue(received.Sentence);
        line.Position.Should().Be(package.Length, "the bytes after the package belong to whatever follows it");
    }

    [Fact]
    public async Task APackageWhoseManifestCannotBeRead_IsRefused_AsThePackage()
    {
        byte[] package = await File.ReadAllBytesAsync(await BuildAsync());
        package[0] ^= 0x20;

        FixReceived received = await ReceiveAsync(Reception(), package);

        received.Code.Should().Be("fix-malformed");
        received.Target.Should().Be("package");
        received.Sentence.Should().Be("The file is not a version 1 fix package.");
        InstallReceipt.FromEnvelope(received.Receipt!).Outcome.Should().Be(InstallResult.Refused);
    }

    [Fact]
    public async Task TheReceptionDefaults_AreFourGiB_AndAHealthyCheck()
    {
        var options = new FixInstallOptions { Trust = _trust, Installer = new FixInstaller(Root, Work, _unit, _time), Context = () => _context, Inbox = Inbox };

        options.MaxPackageBytes.Should().Be(4L * 1024 * 1024 * 1024);
        (await options.HealthCheck(CancellationToken.None)).Should().BeTrue();
    }

    /// <summary>A stream whose line drops once its bytes are read.</summary>
    private sealed class DroppingStream(byte[] head) : MemoryStream(head)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await base.ReadAsync(buffer, cancellationToken);
            return read > 0 ? read : throw new IOException("the line dropped");
        }
    }
}
