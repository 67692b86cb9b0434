using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>
/// The ledger's decisions at their edges on the file store: the threshold and caps at their exact amounts and the
/// sentences that say why, each field an idempotency conflict names, the status at each ledger size, the argument checks.
/// </summary>
public sealed class ChargeLedgerEdgeTests : IAsyncLifetime
{
    private readonly ConsentFixture _f = new();
    private readonly TemporaryFolder _folder = new();
    private FileRecordJournalStore _store = null!;
    private IRecordJournal _journal = null!;

    // EUR, setup 500, 120/min, 60 s increment, minimum 500, session cap 20,000, monthly cap 100,000, threshold 10,000.
    private TollChargePolicy Policy => _f.Rules.TollCharges;

    public async Task InitializeAsync()
    {
        _store = new FileRecordJournalStore(_folder.File("books"));
        _journal = await _store.OpenJournalAsync("ledger/fabrikam");
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _folder.Dispose();
        _f.Dispose();
    }

    private Task<ChargeLedger> OpenAsync(SecurityGroundRules? rules = null) => ChargeLedger.OpenAsync(_journal, rules ?? _f.Rules, _f.Time);

    private ChargeRequest Charge(string key, long amount, string session = "session-1") =>
        TestCharges.CallSetup(key, amount, _f.Time.GetUtcNow(), session: session);

    [Fact]
    public async Task TheApprovalThreshold_ItsAmountIsDue_OneMoreIsHeld_Saying()
    {
        using ChargeLedger ledger = await OpenAsync();

        ChargeEntry at = await ledger.RecordAsync(Charge("at", Policy.ApprovalThresholdMinor, "s-at"));
        ChargeEntry above = await ledger.RecordAsync(Charge("above", Policy.ApprovalThresholdMinor + 1, "s-above"));

        at.Status.Should().Be(ChargeStatus.Due);
        at.HeldBecause.Should().BeNull();
        above.Status.Should().Be(ChargeStatus.Held);
        above.HeldBecause.Should().Be("10001 is above the approval threshold of 10000.");
    }

    [Fact]
    public async Task TheSessionCap_ReachedExactlyIsDue_PassedIsHeld_Saying_AndCountsOnlyThatSession()
    {
        using ChargeLedger ledger = await OpenAsync();
        await ledger.RecordAsync(Charge("a", 10_000));
        await ledger.RecordAsync(Charge("other-session", 10_000, "session-2"));

        ChargeEntry reaching = await ledger.RecordAsync(Charge("b", 10_000));
        ChargeEntry passing = await ledger.RecordAsync(Charge("c", 1));

        reaching.Status.Should().Be(ChargeStatus.Due, "20,000 is the cap, not above it; the other session's charge counts for its own");
        passing.Status.Should().Be(ChargeStatus.Held);
        passing.HeldBecause.Should().Be("The session would total 20001, above its cap of 20000.");
        ledger.DueTotals().Should().Equal(new Dictionary<string, long> { ["EUR"] = 30_000 });
    }

    [Fact]
    public async Task TheMonthlyCap_ReachedExactlyIsDue_PassedIsHeld_NamingTheMonth_AndANewMonthStartsAgain()
    {
        using ChargeLedger ledger = await OpenAsync(_f.Rules with { TollCharges = Policy with { MonthlyCapMinor = 15_000 } });
        await ledger.RecordAsync(Charge("a", 10_000, "s-a"));

        ChargeEntry reaching = await ledger.RecordAsync(Charge("b", 5_000, "s-b"));
        ChargeEntry passing = await ledger.RecordAsync(Charge("c", 1, "s-c"));
        DateTimeOffset nextMonth = _f.Time.GetUtcNow().AddMonths(1);
        ChargeEntry later = await ledger.RecordAsync(TestCharges.CallSetup("d", 5_000, nextMonth));

        reaching.Status.Should().Be(ChargeStatus.Due);
        passing.Status.Should().Be(ChargeStatus.Held);
        string month = NodaTime.Instant.FromDateTimeOffset(_f.Time.GetUtcNow()).InZone(NodaTime.DateTimeZoneProviders.Tzdb["Europe/Berlin"]).Date.ToYearMonth().ToString("uuuu-MM", System.Globalization.CultureInfo.InvariantCulture);
        passing.HeldBecause.Should().Be($"{month} would total 15001, above the monthly cap of 15000.");
        later.Status.Should().Be(ChargeStatus.Due, "another month has its own cap");
    }

    [Fact]
    public async Task ACreditOrAZeroAmount_IsDue_WhateverTheCaps()
    {
        using ChargeLedger ledger = await OpenAsync(_f.Rules with { TollCharges = Policy with { SessionCapMinor = 0, MonthlyCapMinor = 0, ApprovalThresholdMinor = 0 } });

        (await ledger.RecordAsync(Charge("zero", 0))).Status.Should().Be(ChargeStatus.Due);
        (await ledger.RecordAsync(Charge("credit", -300))).Status.Should().Be(ChargeStatus.Due);
        (await ledger.RecordAsync(Charge("one", 1))).Status.Should().Be(ChargeStatus.Held);
        ledger.DueTotals()["EUR"].Should().Be(-300);
    }

    [Theory]
    [InlineData("CustomerId")]
    [InlineData("UnitId")]
    [InlineData("SessionId")]
    [InlineData("Kind")]
    [InlineData("Quantity")]
    [InlineData("QuantityUnit")]
    [InlineData("Rate")]
    [InlineData("AmountMinor")]
    [InlineData("Currency")]
    [InlineData("IncurredAt")]
    [InlineData("Description")]
    [InlineData("EvidenceReference")]
    [InlineData("AuditRecord")]
    [InlineData("Reverses")]
    public async Task AnIdempotencyConflict_NamesExactlyTheFieldThatDiffers(string field)
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeRequest charge = Charge("k", 500);
        await ledger.RecordAsync(charge);
        ChargeRequest changed = field switch
        {
            "CustomerId" => charge with { CustomerId = "contoso" },
            "UnitId" => charge with { UnitId = "other-unit" },
            "SessionId" => charge with { SessionId = "other-session" },
            "Kind" => charge with { Kind = ChargeKind.Other },
            "Quantity" => charge with { Quantity = 2 },
            "QuantityUnit" => charge with { QuantityUnit = "calls" },
            "Rate" => charge with { Rate = 501 },
            "AmountMinor" => charge with { AmountMinor = 501 },
            "Currency" => charge with { Currency = "USD" },
            "IncurredAt" => charge with { IncurredAt = charge.IncurredAt.AddSeconds(1) },
            "Description" => charge with { Description = "other" },
            "EvidenceReference" => charge with { EvidenceReference = "evidence" },
            "AuditRecord" => charge with { AuditRecord = 7 },
            _ => charge with { Reverses = "charge-x" },
        };

        var again = async () => await ledger.RecordAsync(changed);

        IdempotencyConflictException conflict = (await again.Should().ThrowAsync<IdempotencyConflictException>()).Which;
        conflict.DifferingFields.Should().Equal(field);
        _journal.Count.Should().Be(1);
    }

    [Theory]
    [InlineData("eur")]
    [InlineData("EU")]
    [InlineData("EURO")]
    [InlineData("E1R")]
    [InlineData("")]
    public async Task ACurrencyThatIsNotThreeCapitalLetters_IsRefused_NamingIt(string currency)
    {
        using ChargeLedger ledger = await OpenAsync();

        var record = async () => await ledger.RecordAsync(Charge("k", 500) with { Currency = currency });

        ArgumentException refused = (await record.Should().ThrowAsync<ArgumentException>()).Which;
        refused.ParamName.Should().Be("charge");
        refused.Message.Should().StartWith($"'{currency}' is not an ISO 4217 currency code.");
        _journal.Count.Should().Be(0);
    }

    [Fact]
    public async Task Misuse_Throws_NamingTheArgument()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry entry = await ledger.RecordAsync(Charge("k", 500));

        (await FluentActions.Awaiting(() => ledger.RecordAsync(null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("charge");
        (await FluentActions.Awaiting(() => ledger.RecordAsync(Charge(" ", 500))).Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("charge");
        (await FluentActions.Awaiting(() => ledger.ReverseAsync(entry.EntryId, " ", "r")).Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("idempotencyKey");
        ArgumentException unknown = (await FluentActions.Awaiting(() => ledger.ReverseAsync("charge-none", "rev", "r")).Should().ThrowAsync<ArgumentException>()).Which;
        unknown.ParamName.Should().Be("entryId");
        unknown.Message.Should().StartWith("No entry 'charge-none' in the ledger.");
        FluentActions.Invoking(() => ledger.StatusAt(null!, 1)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("entry");
        FluentActions.Invoking(() => ledger.IndexOf(null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("entry");
        (await FluentActions.Awaiting(() => ChargeLedger.OpenAsync(null!, _f.Rules)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("journal");
        (await FluentActions.Awaiting(() => ChargeLedger.OpenAsync(_journal, (GroundRulesBook)null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("groundRules");
        (await FluentActions.Awaiting(() => ChargeLedger.OpenAsync(_journal, (SecurityGroundRules)null!)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("rules");
    }

    [Fact]
    public async Task AReversal_NegatesAmountAndQuantity_SaysWhy_AndIsIncurredWhenRecorded()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry original = await ledger.RecordAsync(Charge("k", 500) with { Quantity = 3 });
        _f.Time.Advance(TimeSpan.FromHours(2));

        ChargeEntry reversal = await ledger.ReverseAsync(original.EntryId, "rev", "billed twice");
        var reverseTheReversal = async () => await ledger.ReverseAsync(reversal.EntryId, "rev-2", "again");

        reversal.Charge.AmountMinor.Should().Be(-500);
        reversal.Charge.Quantity.Should().Be(-3);
        reversal.Charge.Description.Should().Be($"Reversal of {original.EntryId}: billed twice");
        reversal.Charge.IncurredAt.Should().Be(_f.Time.GetUtcNow());
        reversal.Charge.IdempotencyKey.Should().Be("rev");
        reversal.Status.Should().Be(ChargeStatus.Due);
        (await reverseTheReversal.Should().ThrowAsync<InvalidOperationException>()).Which.Message
            .Should().Be($"Entry {reversal.EntryId} is a reversal or is already reversed; it cannot be reversed again.");
    }

    [Fact]
    public async Task AHeldEntryApproved_CanBeReversed()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry held = await ledger.RecordAsync(Charge("big", 15_000));
        (await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [held.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust))
            .IsAccepted.Should().BeTrue();

        ChargeEntry reversal = await ledger.ReverseAsync(held.EntryId, "rev", "approved in error");

        reversal.Charge.AmountMinor.Should().Be(-15_000);
        ledger.DueTotals()["EUR"].Should().Be(0);
    }

    [Fact]
    public async Task TheStatusAtEachLedgerSize_FollowsTheRecordsThatChangedIt()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry held = await ledger.RecordAsync(Charge("big", 15_000, "s-big")); // record 0
        ChargeEntry due = await ledger.RecordAsync(Charge("small", 500, "s-small")); // record 1
        await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [held.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust); // record 2
        await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = due.EntryId, Reason = "no call" }.ToEnvelope().Sign(_f.Customer), _f.Trust); // record 3
        await ledger.ReverseAsync(due.EntryId, "rev", "dispute upheld"); // record 4

        ledger.IndexOf(held).Should().Be(0);
        ledger.IndexOf(due).Should().Be(1);
        ledger.RecordCount.Should().Be(5);
        ledger.Snapshot().RecordCount.Should().Be(5);
        ledger.Snapshot().Entries.Should().HaveCount(3);
        ledger.StatusAt(held, 2).Should().Be(ChargeStatus.Held, "the approval is record 2: not yet seen at size 2");
        ledger.StatusAt(held, 3).Should().Be(ChargeStatus.Due);
        ledger.StatusAt(due, 3).Should().Be(ChargeStatus.Due);
        ledger.StatusAt(due, 4).Should().Be(ChargeStatus.Disputed);
        ledger.StatusAt(due, 5).Should().Be(ChargeStatus.Due, "reversed, the dispute is resolved");
        ledger.StatusOf(due).Should().Be(ChargeStatus.Due);
    }

    [Fact]
    public async Task DueTotals_ArePerCurrency_AndLeaveOutHeldAndDisputedEntries()
    {
        using ChargeLedger ledger = await OpenAsync();
        await ledger.RecordAsync(Charge("eur", 500, "s1"));
        await ledger.RecordAsync(Charge("usd", 700, "s2") with { Currency = "USD" });
        await ledger.RecordAsync(Charge("usd-2", 300, "s3") with { Currency = "USD" });
        await ledger.RecordAsync(Charge("held", 15_000, "s4"));
        ChargeEntry disputed = await ledger.RecordAsync(Charge("disputed", 900, "s5"));
        await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = disputed.EntryId, Reason = "no call" }.ToEnvelope().Sign(_f.Customer), _f.Trust);

        ledger.DueTotals().Should().Equal(new Dictionary<string, long> { ["EUR"] = 500, ["USD"] = 1_000 });
    }

    [Fact]
    public async Task AnApprovalOrDispute_SaysWhatItAccepted_OrRefusesOtherCustomersEntriesAndOtherDocuments()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry a = await ledger.RecordAsync(Charge("a", 15_000, "s-a"));
        ChargeEntry b = await ledger.RecordAsync(Charge("b", 15_000, "s-b"));
        ChargeEntry theirs = await ledger.RecordAsync(Charge("c", 500, "s-c") with { CustomerId = "contoso" });

        DocumentAcceptance two = await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [a.EntryId, b.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        DocumentAcceptance one = await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = a.EntryId, Reason = "r" }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        DocumentAcceptance notTheirs = await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [theirs.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        DocumentAcceptance unknown = await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = "charge-none", Reason = "r" }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        SignedEnvelope dispute = new ChargeDispute { CustomerId = "fabrikam", EntryId = b.EntryId, Reason = "r" }.ToEnvelope().Sign(_f.Customer);
        DocumentAcceptance wrongKind = await ledger.ApproveAsync(dispute, _f.Trust);
        long recorded = _journal.Count;

        two.Sentence.Should().Be("2 entries of fabrikam approved.");
        one.Sentence.Should().Be("1 entry of fabrikam disputed.");
        notTheirs.Reason.Should().Be(DocumentRefusal.UnknownEntry);
        notTheirs.Sentence.Should().Be("The approved document names entries that are not fabrikam's.");
        unknown.Reason.Should().Be(DocumentRefusal.UnknownEntry);
        unknown.Sentence.Should().Be("The disputed document names entries that are not fabrikam's.");
        wrongKind.Reason.Should().Be(DocumentRefusal.Malformed);
        wrongKind.Sentence.Should().Be($"The envelope is a '{ChargeDispute.DocumentType.PayloadType}', not a '{ChargeApproval.DocumentType.PayloadType}'.");
        recorded.Should().Be(5, "three entries and the two accepted documents; the refusals are not recorded");
        ledger.HoldsDocument(DocumentJson.Hash(dispute.Payload.Span)).Should().BeFalse();
    }

    [Fact]
    public async Task TheLedger_ReopenedOverItsJournal_HasTheSameStatusesTotalsAndIndexes()
    {
        ChargeEntry held;
        ChargeEntry approved;
        using (ChargeLedger ledger = await OpenAsync())
        {
            held = await ledger.RecordAsync(Charge("held", 15_000, "s1"));
            approved = await ledger.RecordAsync(Charge("approved", 15_000, "s2"));
            await ledger.RecordAsync(Charge("due", 500, "s3"));
            await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [approved.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        }

        using ChargeLedger reopened = await OpenAsync();

        reopened.RecordCount.Should().Be(4);
        reopened.StatusOf(reopened.Entries[0]).Should().Be(ChargeStatus.Held);
        reopened.StatusOf(reopened.Entries[1]).Should().Be(ChargeStatus.Due);
        reopened.IndexOf(reopened.Entries[2]).Should().Be(2);
        reopened.DueTotals()["EUR"].Should().Be(15_500);
        reopened.Find("held")!.EntryId.Should().Be(held.EntryId);
        reopened.Find("none").Should().BeNull();
        (await reopened.RecordAsync(Charge("s2-more", 5_001, "s2"))).Status.Should().Be(ChargeStatus.Held, "the approved 15,000 counts towards session s2's cap after the replay");
    }

    [Fact]
    public async Task AnEntryId_IsChargeAndAGuid_AndTheRecordingTimeIsTheSystemClocksWithoutAProvider()
    {
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_journal, _f.Rules);
        DateTimeOffset before = TimeProvider.System.GetUtcNow();

        ChargeEntry entry = await ledger.RecordAsync(Charge("k", 500));

        entry.EntryId.Should().MatchRegex("^charge-[0-9a-f]{32}$");
        entry.RecordedAt.Should().BeOnOrAfter(before).And.BeOnOrBefore(TimeProvider.System.GetUtcNow());
    }

    [Fact]
    public async Task AReversal_TakesItsAmountOffTheSessionsTotal_SoTheCapCountsWhatIsDue()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry first = await ledger.RecordAsync(Charge("a", 9_000));
        await ledger.RecordAsync(Charge("b", 9_000));
        await ledger.ReverseAsync(first.EntryId, "rev-a", "billed in error");

        ChargeEntry after = await ledger.RecordAsync(Charge("c", 9_000)); // 9,000 due + 9,000 = 18,000

        after.Status.Should().Be(ChargeStatus.Due, "the session's due total is 9,000 after the reversal");
        (await ledger.RecordAsync(Charge("d", 2_000))).Status.Should().Be(ChargeStatus.Due, "20,000 is the cap exactly");
        (await ledger.RecordAsync(Charge("e", 1))).Status.Should().Be(ChargeStatus.Held, "20,001 is above the cap");
    }

    [Fact]
    public async Task ADisputedEntryReversed_CountsNeitherItsAmountNorItsCredit()
    {
        using ChargeLedger ledger = await OpenAsync(_f.Rules with { TollCharges = Policy with { ApprovalThresholdMinor = long.MaxValue } });
        ChargeEntry disputed = await ledger.RecordAsync(Charge("a", 9_000));
        await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = disputed.EntryId, Reason = "no call" }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        await ledger.ReverseAsync(disputed.EntryId, "rev-a", "dispute upheld");

        ChargeEntry over = await ledger.RecordAsync(Charge("b", 20_001)); // judged right after the reversal

        over.Status.Should().Be(ChargeStatus.Held, "9,000 and -9,000 net to nothing: 20,001 is above the cap");
        over.HeldBecause.Should().Be("The session would total 20001, above its cap of 20000.");
    }

    [Fact]
    public async Task AnApprovedEntry_CountsTowardsTheCaps_OnceAlongsideWhatWasDueBefore()
    {
        using ChargeLedger ledger = await OpenAsync();
        await ledger.RecordAsync(Charge("due", 5_000));
        ChargeEntry held = await ledger.RecordAsync(Charge("held", 11_000));
        await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [held.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust);

        ChargeEntry reaching = await ledger.RecordAsync(Charge("reaching", 4_000));
        ChargeEntry passing = await ledger.RecordAsync(Charge("passing", 1));

        reaching.Status.Should().Be(ChargeStatus.Due, "5,000 + 11,000 + 4,000 is the cap exactly, each counted once");
        passing.Status.Should().Be(ChargeStatus.Held);
    }

    [Fact]
    public async Task ACreditOrAZero_IsDue_EvenWhereCapsLoweredSinceAreAlreadyPassed()
    {
        using (ChargeLedger ledger = await OpenAsync())
        {
            await ledger.RecordAsync(Charge("a", 500));
        }

        using ChargeLedger lowered = await OpenAsync(_f.Rules with { TollCharges = Policy with { SessionCapMinor = 100, MonthlyCapMinor = 100 } });

        (await lowered.RecordAsync(Charge("zero", 0))).Status.Should().Be(ChargeStatus.Due);
        (await lowered.RecordAsync(Charge("credit", -300))).Status.Should().Be(ChargeStatus.Due);
        (await lowered.RecordAsync(Charge("charge", 1))).Status.Should().Be(ChargeStatus.Held);
    }

    [Fact]
    public async Task AnApprovalNamingTheCustomersEntryAndAnothersOne_IsRefusedWhole_AndAnAcceptedOneIsHeld()
    {
        using ChargeLedger ledger = await OpenAsync();
        ChargeEntry ours = await ledger.RecordAsync(Charge("a", 15_000, "s-a"));
        ChargeEntry theirs = await ledger.RecordAsync(Charge("b", 15_000, "s-b") with { CustomerId = "contoso" });
        SignedEnvelope mixed = new ChargeApproval { CustomerId = "fabrikam", EntryIds = [ours.EntryId, theirs.EntryId] }.ToEnvelope().Sign(_f.Customer);
        SignedEnvelope byVendor = new ChargeDispute { CustomerId = "fabrikam", EntryId = ours.EntryId, Reason = "r" }.ToEnvelope().Sign(_f.Vendor);
        SignedEnvelope approval = new ChargeApproval { CustomerId = "fabrikam", EntryIds = [ours.EntryId] }.ToEnvelope().Sign(_f.Customer);

        DocumentAcceptance refused = await ledger.ApproveAsync(mixed, _f.Trust);
        DocumentAcceptance notTheCustomer = await ledger.DisputeAsync(byVendor, _f.Trust);
        DocumentAcceptance accepted = await ledger.ApproveAsync(approval, _f.Trust);

        refused.Reason.Should().Be(DocumentRefusal.UnknownEntry);
        notTheCustomer.IsAccepted.Should().BeFalse();
        notTheCustomer.Sentence.Should().Contain("not signed by the customer");
        accepted.IsAccepted.Should().BeTrue();
        ledger.HoldsDocument(DocumentJson.Hash(approval.Payload.Span)).Should().BeTrue();
        ledger.HoldsDocument(DocumentJson.Hash(mixed.Payload.Span)).Should().BeFalse();
        ledger.StatusOf(ours).Should().Be(ChargeStatus.Due);
    }

    [Fact]
    public async Task AnApprovedEntry_CountsOnceInTheMonthlyCap_Too()
    {
        using ChargeLedger ledger = await OpenAsync(_f.Rules with { TollCharges = Policy with { MonthlyCapMinor = 30_000 } });
        await ledger.RecordAsync(Charge("due", 5_000, "s1"));
        ChargeEntry held = await ledger.RecordAsync(Charge("held", 11_000, "s2"));
        await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [held.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust);
        await ledger.RecordAsync(Charge("third", 9_000, "s3"));

        ChargeEntry reaching = await ledger.RecordAsync(Charge("reaching", 5_000, "s4"));
        ChargeEntry passing = await ledger.RecordAsync(Charge("passing", 1, "s5"));

        reaching.Status.Should().Be(ChargeStatus.Due, "5,000 + 11,000 + 9,000 + 5,000 is the monthly cap exactly");
        passing.Status.Should().Be(ChargeStatus.Held);
    }

    [Fact]
    public async Task WithoutGroundRulesInForce_NothingIsRecorded_AndApprovalsNeedAnEnvelope()
    {
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_journal, new GroundRulesBook(_f.Trust), _f.Time);

        var record = async () => await ledger.RecordAsync(Charge("k", 500));

        (await record.Should().ThrowAsync<InvalidOperationException>()).Which.Message
            .Should().Be("No ground rules are in force: the toll-charge policy (caps, approval threshold, time zone) is unknown.");
        _journal.Count.Should().Be(0);
        (await FluentActions.Awaiting(() => ledger.ApproveAsync(null!, _f.Trust)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("signed");
        (await FluentActions.Awaiting(() => ledger.DisputeAsync(null!, _f.Trust)).Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("signed");
    }
}
