using System.Security.Cryptography;
using System.Text;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Sessions;

/// <summary>Support sessions end to end over real TCP on loopback, the secure channel and channels.</summary>
public sealed class SupportSessionTests
{
    [Fact]
    public async Task HappyPath_ViewThenChangeWithApprovals_DiagnosticAndASignedReceipt()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        var pending = new List<string>();
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);
        session.ApprovalPending = pending.Add;

        DataFileViewResult view = await session.ViewAsync("finance", "ledger/2026.csv", "fabrikam", "ticket 4711: totals wrong", world.Token);
        view.Succeeded.Should().BeTrue(view.Sentence);
        Encoding.UTF8.GetString(view.Content!).Should().Contain("4711,12.50");
        pending.Should().ContainSingle().Which.Should().Contain("ledger/2026.csv");

        byte[] corrected = "account,amount\n4711,21.50\n"u8.ToArray();
        DataFileChangeResult change = await session.ChangeAsync("finance", "ledger/2026.csv", "fabrikam", corrected, "ticket 4711: fix total", world.Token);
        change.Succeeded.Should().BeTrue(change.Sentence);
        change.HashBefore.Should().Be(view.Hash);
        change.HashAfter.Should().Be(Convert.ToHexStringLower(SHA256.HashData(corrected)));
        (await File.ReadAllBytesAsync(Path.Combine(world.DataRoot, "ledger", "2026.csv"))).Should().Equal(corrected);

        DiagnosticResult diagnostic = await session.RunDiagnosticAsync("disk", cancellationToken: world.Token);
        diagnostic.Output.Should().Be("disk: 93% used");
        world.Approver.Asked.Should().HaveCount(2, "view and change each needed the approver; the diagnostic needs none");

        world.Clock.Advance(TimeSpan.FromMinutes(7));
        SignedEnvelope signed = await session.CloseAsync(world.Token);
        await channel.Output.CompleteAsync();

        var unitTrust = new TrustStore();
        unitTrust.Trust("fabrikam", PartyRole.Unit, world.Unit.PublicKey);
        unitTrust.Verify(signed, new SignaturePolicy(SessionReceipt.DocumentType, new SignatureRequirement("fabrikam", PartyRole.Unit))).IsValid.Should().BeTrue();
        SessionReceipt receipt = SessionReceipt.FromEnvelope(signed);
        receipt.SessionId.Should().Be(session.SessionId);
        receipt.Ending.Should().Be("closed");
        receipt.Operations.Select(o => (o.Operation.ToString(), o.Succeeded)).Should().Equal(("ViewData", true), ("ChangeData", true), ("RunDiagnostic", true));
        receipt.Operations[1].HashAfter.Should().Be(change.HashAfter);
        receipt.Charges.Select(c => (c.Kind, c.AmountMinor)).Should().Equal((ChargeKind.CallSetup, 500L), (ChargeKind.ConnectTime, 7 * 120L));

        await world.WaitForSessionsAsync(1);
        world.Ledger.Entries.Where(e => e.Charge.SessionId == session.SessionId).Should().HaveCount(2);
        IReadOnlyList<AuditEvent> audit = await world.AuditEventsAsync();
        audit.Select(e => e.Kind).Should().ContainInOrder(
            AuditEventKind.SessionOpened, AuditEventKind.ConsentDecided, AuditEventKind.DataFileViewed, AuditEventKind.DataFileChanged, AuditEventKind.SessionClosed);
        audit.Last(e => e.Kind == AuditEventKind.SessionClosed).Details["receipt-sha256"].Should().Be(DocumentJsonHash(signed));
    }

    [Fact]
    public async Task List_NamesTheFilesOfAFolderInScope_WithTheViewApproval_AndRefusesAFolderOutOfScope()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        Directory.CreateDirectory(Path.Combine(world.DataRoot, "ledger", "archive"));
        await File.WriteAllTextAsync(Path.Combine(world.DataRoot, "ledger", "archive", "2025.csv"), "old");
        Directory.CreateDirectory(Path.Combine(world.DataRoot, "payroll"));
        await File.WriteAllTextAsync(Path.Combine(world.DataRoot, "payroll", "salaries.csv"), "secret");
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();

        DataFileListResult listed = await connection.Session.ListAsync("finance", "ledger", "fabrikam", "what is there?", world.Token);
        DataFileListResult outOfScope = await connection.Session.ListAsync("finance", "payroll", "fabrikam", "and there?", world.Token);

        listed.Succeeded.Should().BeTrue(listed.Sentence);
        listed.Entries.Select(e => (e.Path, e.Length)).Should().Equal(("ledger/2026.csv", 26L), ("ledger/archive/2025.csv", 3L));
        world.Approver.Asked.Should().ContainSingle("listing names is viewing: the approver is asked");
        outOfScope.Succeeded.Should().BeFalse();
        outOfScope.Code.Should().Be("out-of-scope");
        (outOfScope.Reason, outOfScope.ConsentReason).Should().Be((OperationFailure.NotConsented, RemoteSupport.Consent.ConsentReason.OutOfScope));
        outOfScope.Entries.Should().BeEmpty("a refused listing names no file");
    }

    [Fact]
    public async Task AChangeWhoseAuditRecordFails_IsReportedAsMade_WithItsHashes_AndTheAuditFailure()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();
        world.AuditFaults.FailWhen = record => Encoding.UTF8.GetString(record.Span).Contains("\"data-file-changed\"", StringComparison.Ordinal);
        byte[] corrected = "account,amount\n4711,21.50\n"u8.ToArray();
        string before = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(world.DataRoot, "ledger", "2026.csv"))));

        DataFileChangeResult change = await connection.Session.ChangeAsync("finance", "ledger/2026.csv", "fabrikam", corrected, "ticket 4711: fix total", world.Token);

        (await File.ReadAllBytesAsync(Path.Combine(world.DataRoot, "ledger", "2026.csv"))).Should().Equal(corrected, "the change was made");
        change.Succeeded.Should().BeTrue("the file was replaced; reporting it as failed would hide a change");
        change.Code.Should().Be("audit-failed");
        (change.HashBefore, change.HashAfter).Should().Be((before, Convert.ToHexStringLower(SHA256.HashData(corrected))));
        change.Sentence.Should().Contain("audit record could not be written").And.Contain("No space left on device");
    }

    [Fact]
    public async Task EachMeteredCharge_AndItsAuditRecord_PointAtEachOther()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        await using (SupportConsoleConnection connection = await world.OpenSessionAsync())
        {
            world.Clock.Advance(TimeSpan.FromMinutes(7));
            await connection.Session.CloseAsync(world.Token);
        }

        IReadOnlyList<RemoteSupport.Audit.AuditEvent> audit = await world.AuditEventsAsync();
        world.Ledger.Entries.Should().HaveCount(2);
        foreach (ChargeEntry entry in world.Ledger.Entries)
        {
            entry.Charge.AuditRecord.Should().NotBeNull("the ledger names the audit record backing the charge");
            RemoteSupport.Audit.AuditEvent record = audit[(int)entry.Charge.AuditRecord!.Value];
            record.Kind.Should().Be(RemoteSupport.Audit.AuditEventKind.ChargeRecorded);
            record.Details["idempotency-key"].Should().Be(entry.Charge.IdempotencyKey, "the audit record names the entry it backs");
            record.Details["amount-minor"].Should().Be(entry.Charge.AmountMinor.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task NoAuthorization_TheSessionIsRefusedAtItsStart_AndBothSidesSeeTheSameRefusal()
    {
        await using SessionWorld world = await SessionWorld.StartAsync(authorize: false);
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;

        var refused = await FluentActions.Awaiting(() => SupportSession.OpenAsync(channel, cancellationToken: world.Token)).Should().ThrowAsync<SessionRefusedException>();

        refused.Which.Code.Should().Be("not-authorized");
        refused.Which.Sentence.Should().Contain("No authorization");
        await channel.Output.CompleteAsync(); // the console's side ends, so the agent closes in order
        await world.WaitForSessionsAsync(1);
        world.Receipts.Should().ContainSingle().Which.Should().BeNull();
        SessionRefusedException agentSide = world.Failures.Should().ContainSingle().Which.Should().BeOfType<SessionRefusedException>().Subject;
        (agentSide.Code, agentSide.Sentence, agentSide.Message).Should().Be((refused.Which.Code, refused.Which.Sentence, refused.Which.Message),
            "a refused session looks the same on both sides");
        world.Ledger.Entries.Should().BeEmpty("a refused session is not billed");
    }

    [Fact]
    public async Task AVersionMismatch_EndsWithAMessageNamingBothSidesVersions()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;

        var refused = await FluentActions.Awaiting(() => SupportSession.OpenAsync(channel, null, [2, 3], null, world.Token)).Should().ThrowAsync<SessionRefusedException>();

        refused.Which.Code.Should().Be("version-mismatch");
        refused.Which.Message.Should().Contain("the console speaks 2, 3; this agent speaks 1");
    }

    [Fact]
    public async Task RevokedMidSession_TheNextRequestIsDenied()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);
        (await session.RunDiagnosticAsync("disk", cancellationToken: world.Token)).Succeeded.Should().BeTrue();

        world.Authorizations.Revoke(new AuthorizationRevocation { AuthorizationId = "auth-1", CustomerId = "fabrikam", Reason = "contract ended" }
            .ToEnvelope().Sign(world.Customer)).IsAccepted.Should().BeTrue();
        DiagnosticResult after = await session.RunDiagnosticAsync("disk", cancellationToken: world.Token);

        after.Succeeded.Should().BeFalse();
        after.Code.Should().Be("authorization-revoked");
    }

    [Theory]
    [InlineData(ScriptedApprover.Answer.Refuse, "approval-refused")]
    [InlineData(ScriptedApprover.Answer.Never, "approval-timed-out")]
    public async Task TheApproverRefusesOrDoesNotAnswer_TheRequestIsDenied_AndNothingIsRead(ScriptedApprover.Answer answer, string code)
    {
        await using SessionWorld world = await SessionWorld.StartAsync(approvalTimeout: TimeSpan.FromMinutes(2));
        world.Approver.Next = answer;
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);
        session.ApprovalPending = _ => world.Clock.Advance(TimeSpan.FromMinutes(3)); // the vendor waits past the timeout

        DataFileViewResult view = await session.ViewAsync("finance", "ledger/2026.csv", "fabrikam", "look", world.Token);

        view.Succeeded.Should().BeFalse();
        view.Code.Should().Be(code);
        view.Reason.Should().Be(answer == ScriptedApprover.Answer.Refuse ? OperationFailure.ApprovalRefused : OperationFailure.ApprovalTimedOut);
        view.ConsentReason.Should().BeNull();
        view.Content.Should().BeNull();
        (await world.AuditEventsAsync()).Where(e => e.Kind == RemoteSupport.Audit.AuditEventKind.ConsentDecided).Select(e => e.Details["outcome"])
            .Should().Equal(["needs-approval", "denied"], "the final denial is on record, as the gate's decisions are");
    }

    [Fact]
    public async Task Heartbeats_KeepAnIdleSessionMetered_UpToTheLastOneHeard()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);

        world.Clock.Advance(TimeSpan.FromMinutes(12)); // the technician reads, the console stays quiet
        session.HeartbeatInterval = TimeSpan.FromMilliseconds(20);
        await Task.Delay(TimeSpan.FromMilliseconds(500), world.Token); // real time: several heartbeats go out
        session.HeartbeatInterval = TimeSpan.FromHours(1);
        await Task.Delay(TimeSpan.FromMilliseconds(300), world.Token); // a heartbeat already on its way is heard before the clock moves on
        world.Clock.Advance(TimeSpan.FromMinutes(30));
        await connection.AbortAsync("line dropped");
        await world.WaitForSessionsAsync(1);

        SessionReceipt receipt = SessionReceipt.FromEnvelope(world.Receipts.Single()!);
        receipt.Ending.Should().Be("dropped");
        (receipt.ClosedAt - receipt.OpenedAt).Should().Be(TimeSpan.FromMinutes(12), "metered to the last heartbeat, not to the drop");
    }

    [Fact]
    public async Task ApprovalMissing_NoApproverOnTheUnit_TheRequestIsDenied()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        world.AgentOptions.ApprovalPrompt = null;
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();

        DataFileChangeResult change = await connection.Session.ChangeAsync("finance", "ledger/2026.csv", "fabrikam", "x"u8.ToArray(), "fix", world.Token);

        change.Succeeded.Should().BeFalse();
        change.Code.Should().Be("approval-required");
        (await File.ReadAllTextAsync(Path.Combine(world.DataRoot, "ledger", "2026.csv"))).Should().Contain("4711,12.50", "nothing was changed");
    }

    [Fact]
    public async Task OutsideServiceHours_EveryOperationIsDenied()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        world.Clock.Advance(TimeSpan.FromHours(10)); // 20:00 in Berlin
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);

        DiagnosticResult result = await session.RunDiagnosticAsync("disk", cancellationToken: world.Token);

        result.Succeeded.Should().BeFalse();
        result.Code.Should().Be("outside-hours");
        (result.Reason, result.ConsentReason).Should().Be((OperationFailure.NotConsented, RemoteSupport.Consent.ConsentReason.OutsideHours));
    }

    [Fact]
    public async Task ADroppedConnection_IsMeteredToTheLastMessageHeard_Once()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);
        world.Clock.Advance(TimeSpan.FromMinutes(5));
        (await session.RunDiagnosticAsync("disk", cancellationToken: world.Token)).Succeeded.Should().BeTrue();

        world.Clock.Advance(TimeSpan.FromMinutes(30)); // silence, then the line drops
        await connection.AbortAsync("line dropped");
        await world.WaitForSessionsAsync(1);

        SessionReceipt receipt = SessionReceipt.FromEnvelope(world.Receipts.Single()!);
        receipt.Ending.Should().Be("dropped");
        (receipt.ClosedAt - receipt.OpenedAt).Should().Be(TimeSpan.FromMinutes(5));
        var charges = world.Ledger.Entries.Where(e => e.Charge.SessionId == session.SessionId).ToList();
        charges.Select(e => (e.Charge.Kind, e.Charge.AmountMinor)).Should().Equal((ChargeKind.CallSetup, 500L), (ChargeKind.ConnectTime, 5 * 120L));
    }

    [Fact]
    public async Task AHundredConcurrentSessions_EachAuditedAndChargedExactly()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        const int Sessions = 100;

        async Task<string> RunOneAsync()
        {
            await using SupportConsoleConnection connection = await world.OpenSessionAsync();
            SupportSession session = connection.Session;
            (await session.RunDiagnosticAsync("disk", cancellationToken: world.Token)).Succeeded.Should().BeTrue();
            SessionReceipt receipt = SessionReceipt.FromEnvelope(await session.CloseAsync(world.Token));
            receipt.Operations.Should().ContainSingle();
            return session.SessionId;
        }

        string[] ids = await Task.WhenAll(Enumerable.Range(0, Sessions).Select(_ => Task.Run(RunOneAsync)));
        await world.WaitForSessionsAsync(Sessions);

        ids.Should().OnlyHaveUniqueItems();
        foreach (string id in ids)
        {
            world.Ledger.Entries.Where(e => e.Charge.SessionId == id).Select(e => (e.Charge.Kind, e.Charge.AmountMinor))
                .Should().Equal((ChargeKind.CallSetup, 500L), (ChargeKind.ConnectTime, 500L)); // once each: the setup fee and the minimum
        }

        IReadOnlyList<AuditEvent> audit = await world.AuditEventsAsync();
        audit.Count(e => e.Kind == AuditEventKind.SessionOpened).Should().Be(Sessions);
        audit.Where(e => e.Kind == AuditEventKind.SessionClosed).Select(e => e.SessionId).Should().BeEquivalentTo(ids);
    }

    [Fact]
    public async Task PushFix_StreamedVerifiedApprovedInstalled_WithAnInstallReceipt()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        string package = await world.BuildFixAsync("2.4.0");
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();
        SupportSession session = connection.Session;

        FixPushResult pushed = await session.PushFixAsync(package, "ticket 4711: rounding fix", world.Token);

        pushed.Succeeded.Should().BeTrue(pushed.Sentence);
        InstallReceipt installed = InstallReceipt.FromEnvelope(pushed.InstallReceipt!);
        installed.Outcome.Should().Be(InstallResult.Installed);
        installed.Version.Should().Be("2.4.0");
        (await File.ReadAllBytesAsync(Path.Combine(world.InstallRoot, "bin", "app.dll"))).Length.Should().Be(4096);
        world.Installer.InstalledVersion("ledger").Should().Be("2.4.0");
        world.Approver.Asked.Should().ContainSingle().Which.PackageHash.Should().Be(installed.PackageHash, "the approval binds this package");
        Directory.EnumerateFiles(world.Inbox).Should().BeEmpty("the received package is removed after the install");

        SessionReceipt receipt = SessionReceipt.FromEnvelope(await session.CloseAsync(world.Token));
        receipt.Operations.Should().ContainSingle().Which.Should().Match<SessionOperation>(o =>
            o.Operation == SupportOperation.InstallFix && o.Succeeded && o.HashAfter == installed.PackageHash);
    }

    [Fact]
    public async Task ATamperedPush_IsRefusedWithASignedReceipt_AuditedAsRefused_AndNoApproverIsAsked()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        string package = await world.BuildFixAsync("2.4.0");
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[^10] ^= 0x01; // inside the payload: the manifest still verifies, a chunk does not
        await File.WriteAllBytesAsync(package, bytes);
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();

        FixPushResult pushed = await connection.Session.PushFixAsync(package, "ticket 4711: rounding fix", world.Token);

        pushed.Succeeded.Should().BeFalse();
        pushed.Code.Should().Be("fix-hash-mismatch");
        InstallReceipt refused = InstallReceipt.FromEnvelope(pushed.InstallReceipt!);
        refused.Outcome.Should().Be(InstallResult.Refused);
        world.Approver.Asked.Should().BeEmpty("a package that does not verify is never put to the approver");
        (await world.AuditEventsAsync()).Should().ContainSingle(e => e.Kind == RemoteSupport.Audit.AuditEventKind.FixRefused);
        world.Installer.InstalledVersion("ledger").Should().BeNull();
        Directory.EnumerateFiles(world.Inbox).Should().BeEmpty();
    }

    [Fact]
    public async Task ARefusedPush_IsAnsweredWithoutHangingTheConsole_AndTheNextPushWorks()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        world.AgentOptions.Fixes!.MaxPackageBytes = 1024 * 1024;
        string tooLarge = await world.BuildFixAsync("2.4.0", size: 3 * 1024 * 1024);
        string fits = await world.BuildFixAsync("2.5.0", size: 1024);
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();

        FixPushResult refused = await connection.Session.PushFixAsync(tooLarge, "too big", world.Token);
        FixPushResult installed = await connection.Session.PushFixAsync(fits, "small", world.Token);

        refused.Succeeded.Should().BeFalse();
        refused.Code.Should().Be("package-too-large");
        installed.Succeeded.Should().BeTrue(installed.Sentence);
        world.Installer.InstalledVersion("ledger").Should().Be("2.5.0");
    }

    [Fact]
    public async Task AConnectionDroppedDuringAFixTransfer_InstallsNothing_AndACleanRetrySucceeds_WithoutDoubleCharges()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        string package = await world.BuildFixAsync("2.4.0", size: 2 * 1024 * 1024);
        byte[] bytes = await File.ReadAllBytesAsync(package);

        // The first attempt: the request, then half the package, then the line drops.
        var (first, channel) = await world.DialAsync();
        using (SupportSession session = await SupportSession.OpenAsync(channel, new MultiplexedSessionStreams(first), world.Token))
        {
            await SessionWire.SendAsync(channel, new SessionMessage
            {
                Type = "request", RequestId = "r1", Operation = SupportOperation.InstallFix, Stream = "fix/r1", PackageLength = bytes.Length, Reason = "fix",
            }, world.Token);
            Stream upload = await new MultiplexedSessionStreams(first).OpenStreamAsync("fix/r1", world.Token);
            await upload.WriteAsync(bytes.AsMemory(0, bytes.Length / 2), world.Token);
            await upload.FlushAsync(world.Token);
            await first.AbortAsync("line dropped");
        }

        await world.WaitForSessionsAsync(1);
        (await File.ReadAllTextAsync(Path.Combine(world.InstallRoot, "bin", "app.dll"))).Should().Be("ledger 2.3.0", "nothing was installed");
        Directory.EnumerateFiles(world.Inbox).Should().BeEmpty("the partial package is removed");
        world.Approver.Asked.Should().BeEmpty("an incomplete package is never put to the approver");

        // A clean retry in a new session.
        await using (SupportConsoleConnection second = await world.OpenSessionAsync())
        {
            (await second.Session.PushFixAsync(package, "fix, again", world.Token)).Succeeded.Should().BeTrue();
            await second.Session.CloseAsync(world.Token);
        }

        await world.WaitForSessionsAsync(2);
        world.Installer.InstalledVersion("ledger").Should().Be("2.4.0");
        world.Ledger.Entries.GroupBy(e => e.Charge.SessionId).Should().HaveCount(2)
            .And.OnlyContain(g => g.Count() == 2, "each session is billed its setup and connect time once");
    }

    [Fact]
    public async Task AConsoleThatClosesAfterItsHandshakeWithoutASession_IsReportedEnded_WithTheReason()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        TransportConnection connection = await new TcpDialer(world.EndPoint).DialAsync(world.Token);
        (_, MultiplexedConnection channels) = await world.ConsoleConnection().ConnectAsync(connection, initiator: true, world.Token);

        await channels.DisposeAsync();
        await world.WaitForSessionsAsync(1);

        world.Receipts.Should().ContainSingle().Which.Should().BeNull("no session was opened, so none was receipted");
        world.Failures.Should().ContainSingle().Which.Should().BeOfType<SessionProtocolException>()
            .Which.Code.Should().Be("no-session");
        world.Ledger.Entries.Should().BeEmpty("a connection without a session is not billed");
    }

    private static string DocumentJsonHash(SignedEnvelope envelope) => Convert.ToHexStringLower(SHA256.HashData(envelope.Payload.Span));
}
