using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>The charge the ledger and statement tests record: one call setup of fabrikam's unit, in euros.</summary>
public static class TestCharges
{
    /// <summary>A call setup under <paramref name="key"/> of <paramref name="amount"/> cents (its own session unless one is named).</summary>
    public static ChargeRequest CallSetup(string key, long amount, DateTimeOffset incurred, string description = "Call setup", string? session = null) => new()
    {
        IdempotencyKey = key,
        CustomerId = "fabrikam",
        UnitId = ConsentFixture.Unit,
        SessionId = session ?? "session-" + key,
        Kind = ChargeKind.CallSetup,
        Quantity = 1,
        QuantityUnit = "call",
        Rate = amount,
        AmountMinor = amount,
        Currency = "EUR",
        IncurredAt = incurred,
        Description = description,
    };
}
