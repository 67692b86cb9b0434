using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Contract;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Trust;

using RemoteSupport.Tests.Ledger;

namespace RemoteSupport.Tests.Contract;

/// <summary>The unit's contract state survives restarts: each test closes the journal and opens it again with a fresh trust store, as a new process does.</summary>
public sealed class ContractStateTests : IDisposable
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();
    private readonly PartyIdentity _release1 = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _release2 = PartyIdentity.Create("contoso", PartyRole.Vendor);
    private readonly PartyIdentity _newApprover = PartyIdentity.Create("fabrikam", PartyRole.Approver);

    public void Dispose()
    {
        foreach (PartyIdentity party in new[] { _release1, _release2, _newApprover })
        {
            party.Dispose();
        }

        _f.Dispose();
        _folder.Dispose();
    }

    private string JournalPath => _folder.File("audit.journal");

    [Fact]
    public async Task EveryKindOfDocument_AcceptedThenRestarted_GivesTheSameDecisions()
    {
        string v2Hash;
        await using (Unit unit = await OpenAsync())
        {
            ContractState state = unit.State;
            (await state.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
            SignedEnvelope v2 = RulesV2(state.GroundRules.CurrentHash!);
            (await state.AcceptAsync(v2)).IsAccepted.Should().BeTrue();
            v2Hash = state.GroundRules.CurrentHash!;
            (await state.AcceptAsync(Authorization("auth-1", v2Hash))).IsAccepted.Should().BeTrue();
            (await state.AcceptAsync(Rotation())).IsAccepted.Should().BeTrue();
            (await state.RevokeKeyAsync(_f.OwnerApprover.PublicKey, "left the company")).Should().BeTrue();
            (await state.AcceptAsync(Root(1).ToEnvelope().Sign(_release1).Sign(_release2))).IsAccepted.Should().BeTrue();
            (await state.AcceptAsync(Root(2).ToEnvelope().Sign(_release1).Sign(_release2))).IsAccepted.Should().BeTrue();
            (await state.TryConsumeAsync("approval-1", 3)).Should().BeTrue();
        }

        await using (Unit restarted = await OpenAsync())
        {
            ContractState state = restarted.State;
            state.GroundRules.Current!.Version.Should().Be(2);
            state.GroundRules.CurrentHash.Should().Be(v2Hash);
            state.Authorizations.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, v2Hash).IsAuthorized.Should().BeTrue();
            state.Trust.GetKeySet("fabrikam", PartyRole.Approver)!.Sequence.Should().Be(2);
            state.Trust.CheckKey(_newApprover.PublicKey, PartyRole.Approver, "fabrikam", out _).Should().Be(SignatureProblem.None);
            state.Trust.CheckKey(_f.ItApprover.PublicKey, PartyRole.Approver, "fabrikam", out _).Should().NotBe(SignatureProblem.None, "rotated out");
            state.Trust.CheckKey(_f.OwnerApprover.PublicKey, PartyRole.Approver, "fabrikam", out _).Should().NotBe(SignatureProblem.None, "revoked, then rotated out");
            state.VendorRoot!.Root.Version.Should().Be(2);
            state.UsesOf("approval-1").Should().Be(1);
            state.Documents.Select(d => d.PayloadType).Should().Equal(
                SecurityGroundRules.DocumentType.PayloadType, SecurityGroundRules.DocumentType.PayloadType, ServiceAuthorization.DocumentType.PayloadType,
                KeyRotation.DocumentType.PayloadType, VendorRoot.DocumentType.PayloadType, VendorRoot.DocumentType.PayloadType);
        }
    }

    [Fact]
    public async Task ARevocation_OutlivesARestart_EvenWhenTheOriginalAuthorizationIsOfferedAgain()
    {
        SignedEnvelope authorization;
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
            authorization = Authorization("auth-1", unit.State.GroundRules.CurrentHash!);
            (await unit.State.AcceptAsync(authorization)).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(Revocation("auth-1"))).IsAccepted.Should().BeTrue();
        }

        await using Unit restarted = await OpenAsync();
        DocumentAcceptance offeredAgain = await restarted.State.AcceptAsync(authorization);
        DocumentAcceptance reissued = await restarted.State.AcceptAsync(Authorization("auth-1", restarted.State.GroundRules.CurrentHash!, DateTimeOffset.Parse("2027-06-01T00:00:00Z")));

        offeredAgain.Reason.Should().Be(DocumentRefusal.Superseded);
        offeredAgain.Sentence.Should().Contain("revoked").And.Contain("permanent");
        reissued.Reason.Should().Be(DocumentRefusal.Superseded, "a new document under the revoked id is refused too");
        AuthorizationCheck check = restarted.State.Authorizations.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, restarted.State.GroundRules.CurrentHash);
        check.Reason.Should().Be(AuthorizationFailure.Revoked);
    }

    [Fact]
    public async Task AnOlderGroundRulesVersionOrVendorRoot_OfferedAfterARestart_IsRefused()
    {
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(RulesV2(unit.State.GroundRules.CurrentHash!))).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(Root(1).ToEnvelope().Sign(_release1).Sign(_release2))).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(Root(2).ToEnvelope().Sign(_release1).Sign(_release2))).IsAccepted.Should().BeTrue();
        }

        await using Unit restarted = await OpenAsync();
        DocumentAcceptance rules = await restarted.State.AcceptAsync(RulesV1());
        DocumentAcceptance root = await restarted.State.AcceptAsync(Root(1).ToEnvelope().Sign(_release1).Sign(_release2));
        DocumentAcceptance otherOne = await restarted.State.AcceptAsync(Root(1, expiresInDays: 9).ToEnvelope().Sign(_release1).Sign(_release2));

        rules.Reason.Should().Be(DocumentRefusal.Superseded);
        root.Reason.Should().Be(DocumentRefusal.Superseded);
        otherOne.Reason.Should().Be(DocumentRefusal.Superseded, "a version-1 root never journaled is as old");
        restarted.State.GroundRules.Current!.Version.Should().Be(2);
        restarted.State.VendorRoot!.Root.Version.Should().Be(2);
        (await restarted.State.AcceptAsync(RulesV2(HashOf(RulesV1())))).IsAccepted.Should().BeTrue("the version in force, offered again, is in force");
        new FileInfo(JournalPath).Length.Should().Be(restarted.JournalLength, "nothing is journaled again");
    }

    [Fact]
    public async Task AnApprovalsUses_NeverReset_AcrossRestarts()
    {
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.TryConsumeAsync("approval-1", 2)).Should().BeTrue();
            (await unit.State.TryConsumeAsync("approval-1", 2)).Should().BeTrue();
            (await unit.State.TryConsumeAsync("approval-1", 2)).Should().BeFalse();
        }

        await using Unit restarted = await OpenAsync();
        restarted.State.UsesOf("approval-1").Should().Be(2);
        (await restarted.State.TryConsumeAsync("approval-1", 2)).Should().BeFalse();
        IReadOnlyList<AuditEvent> events = await ExportedEventsAsync(restarted);
        events.Where(e => e.Kind == AuditEventKind.ApprovalUsed).Select(e => e.Details["use"]).Should().Equal("1", "2");
    }

    [Fact]
    public async Task ChargeApprovalsAndDisputes_AreAuditedFirst_AndAppliedToTheLedgerAfterACrashBetween()
    {
        string ledgerPath = _folder.File("ledger.journal");
        string entryId;
        SignedEnvelope approval;
        await using (Unit unit = await OpenAsync())
        await using (AppendOnlyJournal ledgerJournal = await AppendOnlyJournal.OpenAsync(ledgerPath))
        using (ChargeLedger ledger = await ChargeLedger.OpenAsync(ledgerJournal, _f.Rules, _f.Time))
        {
            await unit.State.AttachLedgerAsync(ledger);
            entryId = (await ledger.RecordAsync(TestCharges.CallSetup("big", 15_000, _f.Time.GetUtcNow(), "call setup", ConsentFixture.Session))).EntryId;
            approval = new ChargeApproval { CustomerId = "fabrikam", EntryIds = [entryId] }.ToEnvelope().Sign(_f.Customer);
        }

        // The crash between the two appends: the audit record is written, the ledger's is not.
        await AppendDocumentRecordAsync(approval);

        await using Unit restarted = await OpenAsync();
        await using AppendOnlyJournal reopened = await AppendOnlyJournal.OpenAsync(ledgerPath);
        using ChargeLedger recovered = await ChargeLedger.OpenAsync(reopened, _f.Rules, _f.Time);
        (await restarted.State.AttachLedgerAsync(recovered)).Should().Be(1, "the approval the audit journal holds is applied to the ledger");
        recovered.StatusOf(recovered.Entries.Single()).Should().Be(ChargeStatus.Due);
        DocumentAcceptance dispute = await restarted.State.AcceptAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = entryId, Reason = "no call" }.ToEnvelope().Sign(_f.Customer));
        dispute.IsAccepted.Should().BeTrue(dispute.Sentence);
        recovered.StatusOf(recovered.Entries.Single()).Should().Be(ChargeStatus.Disputed);
        (await ExportedEventsAsync(restarted)).Count(e => e.Kind == AuditEventKind.DocumentAccepted).Should().Be(2);
    }

    [Fact]
    public async Task ACrashAtAnyByteOfARevocationsAppend_RecoversToBeforeOrAfter_NeverBetween()
    {
        long before;
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(Authorization("auth-1", unit.State.GroundRules.CurrentHash!))).IsAccepted.Should().BeTrue();
            before = unit.JournalLength;
            (await unit.State.AcceptAsync(Revocation("auth-1"))).IsAccepted.Should().BeTrue();
        }

        byte[] after = await File.ReadAllBytesAsync(JournalPath);
        after.Length.Should().BeGreaterThan((int)before);
        var outcomes = new List<AuthorizationFailure>();
        foreach (int cut in CutPoints(before, after.Length))
        {
            // The file system may also have extended the file while only the record's first sectors (512 bytes
            // each) reached the disk: the rest reads as zeros.
            foreach (bool zeroFilled in cut == before || cut % 512 == 0 ? new[] { false, true } : [false])
            {
                byte[] crashed = zeroFilled ? [.. after.AsSpan(0, cut), .. new byte[after.Length - cut]] : after[..cut];
                await File.WriteAllBytesAsync(JournalPath, crashed);
                await using Unit recovered = await OpenAsync();
                AuthorizationFailure failure = recovered.State.Authorizations.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, recovered.State.GroundRules.CurrentHash).Reason;
                failure.Should().Be(cut == after.Length ? AuthorizationFailure.Revoked : AuthorizationFailure.None, $"a crash with {cut} of {after.Length} bytes written");
                recovered.JournalLength.Should().Be(cut == after.Length ? after.Length : before, "a torn tail is cut back to the last whole record");
                outcomes.Add(failure);
            }
        }

        outcomes.Should().Contain(AuthorizationFailure.None).And.Contain(AuthorizationFailure.Revoked);
    }

    [Fact]
    public async Task ACrashAtAnyByteOfAnApprovalUse_RecoversToBeforeOrAfter()
    {
        long before;
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.TryConsumeAsync("approval-1", 1)).Should().BeTrue();
            before = unit.JournalLength;
            (await unit.State.TryConsumeAsync("approval-2", 1)).Should().BeTrue();
        }

        byte[] after = await File.ReadAllBytesAsync(JournalPath);
        foreach (int cut in CutPoints(before, after.Length))
        {
            await File.WriteAllBytesAsync(JournalPath, after[..cut]);
            await using Unit recovered = await OpenAsync();
            recovered.State.UsesOf("approval-1").Should().Be(1);
            recovered.State.UsesOf("approval-2").Should().Be(cut == after.Length ? 1 : 0);
        }
    }

    [Fact]
    public async Task ADamagedRecord_IsRefusedNamingItsIndexAndOffset_NeverResetToEmpty()
    {
        long offset;
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
            offset = unit.JournalLength;
            (await unit.State.AcceptAsync(Authorization("auth-1", unit.State.GroundRules.CurrentHash!))).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(Revocation("auth-1"))).IsAccepted.Should().BeTrue();
        }

        byte[] bytes = await File.ReadAllBytesAsync(JournalPath);
        bytes[offset + 40] ^= 0x01; // inside record 1, the authorization
        await File.WriteAllBytesAsync(JournalPath, bytes);

        Func<Task> open = OpenAsync;
        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain($"Record 1 at offset {offset}").And.Contain("damaged");
    }

    [Fact]
    public async Task ARecordWithAValidChecksumButAForgedDocument_IsRefusedNamingTheRecord()
    {
        using var stranger = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
        }

        long offset = new FileInfo(JournalPath).Length;
        SignedEnvelope forged = Authorization("auth-forged", HashOf(RulesV1()), signer: stranger);
        await AppendDocumentRecordAsync(forged);

        Func<Task> open = OpenAsync;
        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should()
            .Contain($"Audit record 1 at offset {offset}").And.Contain("does not replay").And.Contain("not signed by the customer");
    }

    [Fact]
    public async Task DocumentsSignedByAKeyRotatedOutSince_AreStillInForce_WhenOfferedAgainAtTheNextStart()
    {
        using var newCustomerKey = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        SignedEnvelope authorization;
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
            authorization = Authorization("auth-1", unit.State.GroundRules.CurrentHash!);
            (await unit.State.AcceptAsync(authorization)).IsAccepted.Should().BeTrue();
            SignedEnvelope rotation = KeyRotation.Create("fabrikam", PartyRole.Customer, 2, 1, [newCustomerKey.PublicKey]).Sign(_f.Customer).Sign(newCustomerKey);
            (await unit.State.AcceptAsync(rotation)).IsAccepted.Should().BeTrue();
        }

        await using Unit restarted = await OpenAsync();
        DocumentAcceptance rules = await restarted.State.AcceptAsync(RulesV1());
        DocumentAcceptance again = await restarted.State.AcceptAsync(authorization);

        rules.IsAccepted.Should().BeTrue(rules.Sentence);
        again.IsAccepted.Should().BeTrue("it was accepted when its signer's key was the customer's, and the journal answers for it: " + again.Sentence);
        again.Sentence.Should().Contain("Already in force");
        restarted.State.Authorizations.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, restarted.State.GroundRules.CurrentHash).IsAuthorized.Should().BeTrue();
        (await restarted.State.AcceptAsync(Authorization("auth-2", restarted.State.GroundRules.CurrentHash!))).Reason
            .Should().Be(DocumentRefusal.NotSigned, "a new document signed by the rotated-out key is refused");
    }

    [Fact]
    public async Task ARestartInTheSameProcess_WithTheSameTrustStore_ReplaysTwoRotationsOfOneSet()
    {
        using var third = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        TrustStore shared = BaseTrust();
        await using (Unit unit = await OpenAsync(shared))
        {
            (await unit.State.AcceptAsync(Rotation())).IsAccepted.Should().BeTrue();
            (await unit.State.AcceptAsync(KeyRotation.Create("fabrikam", PartyRole.Approver, 3, 1, [third.PublicKey]).Sign(_newApprover).Sign(third))).IsAccepted.Should().BeTrue();
        }

        await using Unit restarted = await OpenAsync(shared);
        restarted.State.Trust.GetKeySet("fabrikam", PartyRole.Approver)!.Sequence.Should().Be(3);
    }

    [Fact]
    public async Task AContractRecordThatIsNotJson_IsRefusedNamingItsRecordAndOffset()
    {
        await using (Unit unit = await OpenAsync())
        {
            (await unit.State.AcceptAsync(RulesV1())).IsAccepted.Should().BeTrue();
        }

        long offset = new FileInfo(JournalPath).Length;
        await using (AppendOnlyJournal audit = await AppendOnlyJournal.OpenAsync(JournalPath))
        {
            await audit.AppendAsync("{\"kind\":\"document-accepted\",\"details\":"u8.ToArray());
        }

        Func<Task> open = OpenAsync;
        (await open.Should().ThrowAsync<JournalException>()).Which.Message.Should().Contain($"Audit record 1 at offset {offset}").And.Contain("not an audit event");
    }

    [Fact]
    public async Task TheBooksItKeeps_RefuseChangesMadeBesideIt()
    {
        await using Unit unit = await OpenAsync();
        SignedEnvelope rules = RulesV1();

        unit.State.GroundRules.Invoking(b => b.Accept(rules)).Should().Throw<InvalidOperationException>().WithMessage("*contract state*");
        unit.State.Authorizations.Invoking(b => b.Revoke(Revocation("auth-1"))).Should().Throw<InvalidOperationException>();
        unit.State.Trust.Invoking(t => t.Revoke(_f.OwnerApprover.PublicKey, "x")).Should().Throw<InvalidOperationException>();
        unit.State.Trust.Invoking(t => t.Rotate(Rotation())).Should().Throw<InvalidOperationException>();
        (await unit.State.AcceptAsync(Root(1).ToEnvelope().Sign(_release1).Sign(_release2))).IsAccepted.Should().BeTrue();
        unit.State.VendorRoot!.Invoking(r => r.Rotate(Root(2).ToEnvelope().Sign(_release1).Sign(_release2))).Should().Throw<InvalidOperationException>();
        (await unit.State.AcceptAsync(SignedEnvelope.Create("application/x-other", "{}"u8))).Reason.Should().Be(DocumentRefusal.Malformed);
    }

    private static IEnumerable<int> CutPoints(long before, int after)
    {
        // Every byte of the record header and the first of the payload, then every 61st, every sector boundary, and the last few.
        for (long cut = before; cut <= after; cut++)
        {
            long into = cut - before;
            if (into < 24 || into % 61 == 0 || cut % 512 == 0 || after - cut < 4)
            {
                yield return (int)cut;
            }
        }
    }

    /// <summary>Writes a document-accepted record straight into the journal, beside the contract state (as a crash, or someone with the file, leaves it).</summary>
    private async Task AppendDocumentRecordAsync(SignedEnvelope document)
    {
        await using AppendOnlyJournal audit = await AppendOnlyJournal.OpenAsync(JournalPath);
        await new AuditLog(audit, _f.Time).RecordAsync(new AuditEvent
        {
            Kind = AuditEventKind.DocumentAccepted,
            At = _f.Time.GetUtcNow(),
            Details = new Dictionary<string, string>
            {
                ["payload-type"] = document.PayloadType,
                ["document-sha256"] = HashOf(document),
                ["document"] = document.ToJson(),
                ["sentence"] = "accepted",
            },
        });
    }

    private static string HashOf(SignedEnvelope envelope) => DocumentJson.Hash(envelope.Payload.Span);

    private static async Task<IReadOnlyList<AuditEvent>> ExportedEventsAsync(Unit unit)
    {
        string export = unit.JournalPath + ".export";
        File.Delete(export);
        await unit.Audit.Journal.ExportAsync(export);
        return await AuditLog.ReadExportAsync(export);
    }

    private Task<Unit> OpenAsync() => OpenAsync(BaseTrust()); // a fresh process

    /// <summary>The key sets the integrator's code trusts at every start.</summary>
    private TrustStore BaseTrust()
    {
        var trust = new TrustStore(_f.Time);
        trust.Trust("fabrikam", PartyRole.Customer, _f.Customer.PublicKey);
        trust.Trust("contoso", PartyRole.Vendor, _f.Vendor.PublicKey);
        trust.Trust("contoso", PartyRole.Technician, _f.Technician.PublicKey);
        trust.Trust("fabrikam", PartyRole.Approver, 1, [_f.ItApprover.PublicKey, _f.OwnerApprover.PublicKey]);
        return trust;
    }

    private async Task<Unit> OpenAsync(TrustStore trust)
    {
        AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(JournalPath);
        var audit = new AuditLog(journal, _f.Time);
        try
        {
            return new Unit(journal, audit, await ContractState.OpenAsync(audit, trust, "fabrikam", _f.Time));
        }
        catch
        {
            await journal.DisposeAsync();
            throw;
        }
    }

    private SignedEnvelope RulesV1() => _f.Rules.ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor);

    private SignedEnvelope RulesV2(string replaces) => (_f.Rules with { Version = 2, Replaces = replaces, MaxSessionMinutes = 60 }).ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor);

    private SignedEnvelope Authorization(string id, string groundRulesHash, DateTimeOffset? until = null, PartyIdentity? signer = null) =>
        (_f.AuthorizationFor(groundRulesHash) with { AuthorizationId = id, ValidUntil = until ?? DateTimeOffset.Parse("2027-01-01T00:00:00Z") }).ToEnvelope().Sign(signer ?? _f.Customer);

    private SignedEnvelope Revocation(string id) =>
        new AuthorizationRevocation { AuthorizationId = id, CustomerId = "fabrikam", Reason = "contract ended" }.ToEnvelope().Sign(_f.Customer);

    private SignedEnvelope Rotation() =>
        KeyRotation.Create("fabrikam", PartyRole.Approver, 2, 1, [_newApprover.PublicKey]).Sign(_f.ItApprover).Sign(_newApprover);

    private VendorRoot Root(long version, int expiresInDays = 365) => new()
    {
        VendorId = "contoso",
        Version = version,
        Expires = _f.Time.GetUtcNow().AddDays(expiresInDays),
        ReleaseKeys = [_release1.PublicKey.ToString(), _release2.PublicKey.ToString()],
        Threshold = 2,
    };


    private sealed class Unit(AppendOnlyJournal journal, AuditLog audit, ContractState state) : IAsyncDisposable
    {
        public ContractState State { get; } = state;

        public AuditLog Audit { get; } = audit;

        public string JournalPath => journal.Path;

        public long JournalLength => new FileInfo(journal.Path).Length;

        public async ValueTask DisposeAsync()
        {
            State.Dispose();
            await journal.DisposeAsync();
        }
    }
}
