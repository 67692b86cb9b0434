using System.Text.Json;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>The toll-charge condition for one session: the call setup and the connect time at the rules' rates, each audited first, metered once.</summary>
public sealed class SessionMeterTests : IAsyncLifetime
{
    private readonly TemporaryFolder _folder = new();
    private AppendOnlyJournal _ledgerJournal = null!;
    private AppendOnlyJournal _auditJournal = null!;

    public async Task InitializeAsync()
    {
        _ledgerJournal = await AppendOnlyJournal.OpenAsync(_folder.File("ledger.journal"));
        _auditJournal = await AppendOnlyJournal.OpenAsync(_folder.File("audit.journal"));
    }

    public async Task DisposeAsync()
    {
        await _ledgerJournal.DisposeAsync();
        await _auditJournal.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task ASession_IsChargedItsSetupAndItsConnectTime_EachAuditedFirst_AndOnlyOnce()
    {
        using var f = new ConsentFixture(); // EUR, setup 500, 120/min, 60 s increment, minimum 500
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, f.GroundRules, f.Time);
        var meter = new SessionMeter(ledger, f.GroundRules, new AuditLog(_auditJournal, f.Time), f.Time);
        DateTimeOffset opened = f.Time.GetUtcNow();

        var charges = await meter.MeterAsync("session-9", "fabrikam", "unit-1", opened, opened.AddSeconds(301));
        var again = await meter.MeterAsync("session-9", "fabrikam", "unit-1", opened, opened.AddSeconds(301));

        charges.Should().HaveCount(2);
        ChargeRequest setup = charges[0].Entry.Charge;
        ChargeRequest connect = charges[1].Entry.Charge;
        (setup.IdempotencyKey, setup.Kind, setup.Quantity, setup.QuantityUnit, setup.Rate, setup.AmountMinor, setup.Description)
            .Should().Be(("session-9/call-setup", ChargeKind.CallSetup, 1m, "call", 500m, 500L, "Call setup"));
        (connect.IdempotencyKey, connect.Kind, connect.Quantity, connect.QuantityUnit, connect.Rate, connect.AmountMinor, connect.Description)
            .Should().Be(("session-9/connect-time", ChargeKind.ConnectTime, 360m, "second", 2m, 720L, "Connect time 301 s (billed 360 s)"));
        (setup.CustomerId, setup.UnitId, setup.SessionId, setup.Currency, setup.IncurredAt).Should().Be(("fabrikam", "unit-1", "session-9", "EUR", opened));
        charges.Select(c => c.Status).Should().Equal(ChargeStatus.Due, ChargeStatus.Due);
        again.Select(c => c.Entry.EntryId).Should().Equal(charges.Select(c => c.Entry.EntryId), "metered before: never billed twice");
        _ledgerJournal.Count.Should().Be(2);
        _auditJournal.Count.Should().Be(2, "nor audited twice");
        AuditEvent first = JsonSerializer.Deserialize<AuditEvent>(await _auditJournal.ReadAsync(0), DocumentJson.Options)!;
        first.Kind.Should().Be(AuditEventKind.ChargeRecorded);
        first.Details["idempotency-key"].Should().Be("session-9/call-setup");
        (setup.AuditRecord, connect.AuditRecord).Should().Be((0L, 1L), "each entry points back at its audit record");
    }

    [Fact]
    public async Task NoSetupFee_NoSetupLine_AndAHeldChargeSaysSo()
    {
        using var f = new ConsentFixture(rules: r => r with { TollCharges = r.TollCharges with { SetupFeeMinor = 0, ApprovalThresholdMinor = 100 } });
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, f.GroundRules, f.Time);
        var meter = new SessionMeter(ledger, f.GroundRules, new AuditLog(_auditJournal, f.Time), f.Time);
        DateTimeOffset opened = f.Time.GetUtcNow();

        var charges = await meter.MeterAsync("session-1", "fabrikam", "unit-1", opened, opened.AddSeconds(60));

        charges.Should().ContainSingle().Which.Entry.Charge.Kind.Should().Be(ChargeKind.ConnectTime);
        charges[0].Status.Should().Be(ChargeStatus.Held, "500 (the minimum) is above the threshold of 100");
    }

    [Fact]
    public async Task WithoutGroundRulesInForce_ASessionCannotBeMetered()
    {
        using var f = new ConsentFixture();
        using ChargeLedger ledger = await ChargeLedger.OpenAsync(_ledgerJournal, f.GroundRules, f.Time);
        var meter = new SessionMeter(ledger, new GroundRulesBook(f.Trust), new AuditLog(_auditJournal, f.Time), f.Time);

        var metering = async () => await meter.MeterAsync("session-1", "fabrikam", "unit-1", f.Time.GetUtcNow(), f.Time.GetUtcNow());

        (await metering.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Be("No ground rules are in force: the session cannot be metered.");
        _auditJournal.Count.Should().Be(0);
    }
}
