using RemoteSupport.GroundRules;
using RemoteSupport.Documents;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;
using RemoteSupport.Tests.Journal;

namespace RemoteSupport.Tests.Ledger;

/// <summary>
/// The charge ledger's contract on a store: the file store passes it here, the PostgreSQL store in its own test
/// project (this file is linked there), one suite for both. A new store over the same backing is a restart.
/// </summary>
public abstract class ChargeLedgerContract<TBacking> : IAsyncLifetime
    where TBacking : IStoreBacking, new()
{
    private const string LedgerName = "ledger/fabrikam";
    private readonly ConsentFixture _f = new();

    protected TBacking Backing { get; } = new();

    private TollChargePolicy Policy => _f.Rules.TollCharges; // EUR, setup 500, 120/min, 60 s increment, minimum 500

    public Task InitializeAsync() => Backing.InitializeAsync();

    public async Task DisposeAsync()
    {
        _f.Dispose();
        await Backing.DisposeAsync();
    }

    [StoreFact]
    public async Task SameKeySameContent_ReturnsTheOriginal_SameKeyOtherContent_NamesTheFields()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);
        ChargeRequest charge = Charge("session-1/setup", 500);

        ChargeEntry first = await ledger.RecordAsync(charge);
        ChargeEntry again = await ledger.RecordAsync(charge);
        var conflicting = async () => await ledger.RecordAsync(charge with { AmountMinor = 900, Description = "other" });

        again.EntryId.Should().Be(first.EntryId);
        journal.Count.Should().Be(1, "a retry never bills twice");
        (await conflicting.Should().ThrowAsync<IdempotencyConflictException>()).Which.DifferingFields.Should().Equal("AmountMinor", "Description");
    }

    [StoreFact]
    public async Task Reversal_ReferencesTheOriginal_AndTotalsAreExact()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);
        ChargeEntry setup = await ledger.RecordAsync(Charge("s1/setup", 500));
        await ledger.RecordAsync(Charge("s1/connect", 720, ChargeKind.ConnectTime));

        ChargeEntry reversal = await ledger.ReverseAsync(setup.EntryId, "s1/setup/reversal", "setup billed in error");

        reversal.Charge.Reverses.Should().Be(setup.EntryId);
        reversal.Charge.AmountMinor.Should().Be(-500);
        ledger.DueTotals()["EUR"].Should().Be(720);
    }

    [StoreFact]
    public async Task Reversal_IsIdempotent_AndNeverCreditsTwiceOrCreditsAHeldEntry()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);
        ChargeEntry setup = await ledger.RecordAsync(Charge("s1/setup", 500));
        ChargeEntry held = await ledger.RecordAsync(Charge("big", 15_000));

        ChargeEntry first = await ledger.ReverseAsync(setup.EntryId, "rev-1", "error");
        _f.Time.Advance(TimeSpan.FromMinutes(1));
        ChargeEntry retry = await ledger.ReverseAsync(setup.EntryId, "rev-1", "error");
        var again = async () => await ledger.ReverseAsync(setup.EntryId, "rev-2", "error again");
        var ofHeld = async () => await ledger.ReverseAsync(held.EntryId, "rev-3", "held");

        retry.EntryId.Should().Be(first.EntryId);
        await again.Should().ThrowAsync<InvalidOperationException>().WithMessage("*already reversed*");
        await ofHeld.Should().ThrowAsync<InvalidOperationException>().WithMessage("*held*");
        ledger.DueTotals()["EUR"].Should().Be(0);
    }

    [StoreFact]
    public async Task EntriesBeyondThresholdOrCaps_AreHeld_OutsideTheTotals()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);

        ChargeEntry big = await ledger.RecordAsync(Charge("big", 15_000)); // threshold 10,000
        for (int i = 0; i < 2; i++)
        {
            (await ledger.RecordAsync(Charge($"s1/{i}", 9_000))).Status.Should().Be(ChargeStatus.Due);
        }

        ChargeEntry overSessionCap = await ledger.RecordAsync(Charge("s1/3", 9_000)); // session cap 20,000

        big.Status.Should().Be(ChargeStatus.Held);
        big.HeldBecause.Should().Contain("approval threshold");
        overSessionCap.Status.Should().Be(ChargeStatus.Held);
        overSessionCap.HeldBecause.Should().Contain("cap of 20000");
        ledger.DueTotals()["EUR"].Should().Be(18_000);
    }

    [StoreFact]
    public async Task HeldEntry_BecomesDue_OnlyWithTheCustomersSignedApproval()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);
        ChargeEntry big = await ledger.RecordAsync(Charge("big", 15_000));

        DocumentAcceptance byVendor = await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [big.EntryId] }.ToEnvelope().Sign(_f.Vendor), _f.Trust);
        ledger.StatusOf(big).Should().Be(ChargeStatus.Held);
        DocumentAcceptance byCustomer = await ledger.ApproveAsync(new ChargeApproval { CustomerId = "fabrikam", EntryIds = [big.EntryId] }.ToEnvelope().Sign(_f.Customer), _f.Trust);

        byVendor.Sentence.Should().Contain("not signed by the customer");
        byCustomer.IsAccepted.Should().BeTrue();
        ledger.StatusOf(big).Should().Be(ChargeStatus.Due);
        ledger.DueTotals()["EUR"].Should().Be(15_000);
    }

    [StoreFact]
    public async Task DisputedEntry_IsNotDue_UntilReversed_AndTheStateReplays()
    {
        string disputedId;
        await using (IRecordJournalStore store = Backing.OpenStore())
        {
            IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
            using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);
            ChargeEntry setup = await ledger.RecordAsync(Charge("s1/setup", 500));
            await ledger.RecordAsync(Charge("s1/connect", 720, ChargeKind.ConnectTime));
            disputedId = setup.EntryId;

            (await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = setup.EntryId, Reason = "no call that day" }.ToEnvelope().Sign(_f.Customer), _f.Trust))
                .IsAccepted.Should().BeTrue();
            ledger.StatusOf(setup).Should().Be(ChargeStatus.Disputed);
            ledger.DueTotals()["EUR"].Should().Be(720);
        }

        await using (IRecordJournalStore store = Backing.OpenStore())
        {
            IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
            using ChargeLedger replayed = await ChargeLedger.OpenAsync(journal, _f.Rules, _f.Time);
            ChargeEntry setup = replayed.Entries.Single(e => e.EntryId == disputedId);
            replayed.StatusOf(setup).Should().Be(ChargeStatus.Disputed);

            await replayed.ReverseAsync(disputedId, "s1/setup/reversal", "dispute upheld");

            replayed.StatusOf(setup).Should().Be(ChargeStatus.Due, "the reversal resolves the dispute");
            replayed.DueTotals()["EUR"].Should().Be(720);
        }
    }

    [StoreFact]
    public async Task ConcurrentRecorders_ExactTotals_AndTheLedgerReplaysFromTheJournal()
    {
        var rules = _f.Rules with { TollCharges = Policy with { SessionCapMinor = long.MaxValue, MonthlyCapMinor = long.MaxValue } };
        await using (IRecordJournalStore store = Backing.OpenStore())
        {
            IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
            using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, rules, _f.Time);
            await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => ledger.RecordAsync(Charge($"k{i % 150}", 37)))));
            ledger.DueTotals()["EUR"].Should().Be(150 * 37, "150 distinct keys; the other 50 are retries");
        }

        await using IRecordJournalStore restarted = Backing.OpenStore();
        IRecordJournal reopened = await restarted.OpenJournalAsync(LedgerName);
        using ChargeLedger replayed = await ChargeLedger.OpenAsync(reopened, rules, _f.Time);
        replayed.Entries.Should().HaveCount(150);
        replayed.DueTotals()["EUR"].Should().Be(150 * 37);
    }

    [StoreFact]
    public async Task TwoConcurrentReversalsOfOneEntry_RecordOne_AndRefuseTheOther()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.GroundRules, _f.Time);
        for (int round = 0; round < 20; round++)
        {
            ChargeEntry setup = await ledger.RecordAsync(Charge($"s{round}/setup", 500));
            using var start = new ManualResetEventSlim();
            Task<ChargeEntry>[] reversals = Enumerable.Range(0, 2)
                .Select(i => Task.Run(() => { start.Wait(); return ledger.ReverseAsync(setup.EntryId, $"s{round}/reversal-{i}", "billed in error"); }))
                .ToArray();
            start.Set();
            Task all = Task.WhenAll(reversals);
            try
            {
                await all;
            }
            catch (InvalidOperationException)
            {
                // The second reversal is refused: checked below.
            }

            reversals.Count(t => t.IsCompletedSuccessfully).Should().Be(1, "an entry is reversed once, however many reversals race");
            reversals.Single(t => t.IsFaulted).Exception!.InnerException.Should().BeOfType<InvalidOperationException>()
                .Which.Message.Should().Contain("already reversed");
            ledger.Entries.Count(e => e.Charge.Reverses == setup.EntryId).Should().Be(1);
        }
    }

    [StoreFact]
    public async Task AHeldEntryThatIsDisputed_CannotBeReversed_IntoACreditNeverBilled()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.GroundRules, _f.Time);
        ChargeEntry held = await ledger.RecordAsync(Charge("s1/big", Policy.ApprovalThresholdMinor + 1));
        held.Status.Should().Be(ChargeStatus.Held);
        (await ledger.DisputeAsync(new ChargeDispute { CustomerId = "fabrikam", EntryId = held.EntryId, Reason = "not ours" }.ToEnvelope().Sign(_f.Customer), _f.Trust))
            .IsAccepted.Should().BeTrue();

        var reverse = async () => await ledger.ReverseAsync(held.EntryId, "s1/big/reversal", "dispute upheld");

        (await reverse.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("held, not due");
        ledger.DueTotals().GetValueOrDefault("EUR").Should().Be(0, "nothing was billed, so nothing is credited");
    }

    [StoreFact]
    public async Task AmendedGroundRules_SetTheCapsOfTheNextCharge_OneSourceOfTruth()
    {
        await using IRecordJournalStore store = Backing.OpenStore();
        IRecordJournal journal = await store.OpenJournalAsync(LedgerName);
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(journal, _f.GroundRules, _f.Time);
        (await ledger.RecordAsync(Charge("s1/setup", 900))).Status.Should().Be(ChargeStatus.Due, "version 1 allows it");

        SecurityGroundRules amended = _f.Rules with
        {
            Version = 2,
            Replaces = _f.GroundRules.CurrentHash,
            TollCharges = _f.Rules.TollCharges with { ApprovalThresholdMinor = 800 },
        };
        _f.GroundRules.Accept(amended.ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor)).IsAccepted.Should().BeTrue();
        ChargeEntry after = await ledger.RecordAsync(Charge("s2/setup", 900));

        after.Status.Should().Be(ChargeStatus.Held, "the amendment in force lowered the approval threshold");
        after.HeldBecause.Should().Contain("approval threshold of 800");
        ledger.GroundRules.Should().BeSameAs(_f.GroundRules);
    }

    private ChargeRequest Charge(string key, long amount, ChargeKind kind = ChargeKind.CallSetup) => new()
    {
        IdempotencyKey = key,
        CustomerId = "fabrikam",
        UnitId = ConsentFixture.Unit,
        SessionId = "session-1",
        Kind = kind,
        Quantity = 1,
        QuantityUnit = kind == ChargeKind.ConnectTime ? "second" : "call",
        Rate = amount,
        AmountMinor = amount,
        Currency = "EUR",
        IncurredAt = _f.Time.GetUtcNow(),
        Description = kind.ToString(),
    };
}
