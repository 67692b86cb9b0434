using System.Globalization;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Sessions;

namespace RemoteSupport.Ledger;

/// <summary>
/// The toll-charge condition for one session: the call setup and the connect time at the rates of the
/// ground rules in force, recorded idempotently (keyed by the session id) in the ledger, each charge
/// audited first and its entry pointing back at the audit record (<see cref="ChargeRequest.AuditRecord"/>). The ledger judges caps and holds under the same ground rules (one source of the policy).
/// </summary>
internal sealed class SessionMeter(ChargeLedger ledger, GroundRulesBook groundRules, AuditLog audit, TimeProvider time)
{
    /// <summary>Records the session's charges.</summary>
    /// <returns>Each charge recorded, with its status (due or held) in the ledger.</returns>
    public async Task<IReadOnlyList<(ChargeEntry Entry, ChargeStatus Status)>> MeterAsync(
        string sessionId, string customerId, string unitId, DateTimeOffset openedAt, DateTimeOffset closedAt)
    {
        TollChargePolicy policy = groundRules.Current?.TollCharges
            ?? throw new InvalidOperationException("No ground rules are in force: the session cannot be metered.");
        var card = new RateCard(policy);
        TimeSpan connected = closedAt - openedAt;
        var charges = new List<(ChargeEntry, ChargeStatus)>();
        if (card.SetupFeeMinor > 0)
        {
            charges.Add(await ChargeAsync(ChargeKind.CallSetup, 1, "call", card.SetupFeeMinor, card.SetupFeeMinor, "Call setup").ConfigureAwait(false));
        }

        long seconds = card.BilledSeconds(connected);
        charges.Add(await ChargeAsync(ChargeKind.ConnectTime, seconds, "second", policy.PerMinuteMinor / 60m, card.ConnectTimeMinor(connected),
            string.Create(CultureInfo.InvariantCulture, $"Connect time {connected.TotalSeconds:0} s (billed {seconds} s)")).ConfigureAwait(false));
        return charges;

        async Task<(ChargeEntry, ChargeStatus)> ChargeAsync(ChargeKind kind, decimal quantity, string unit, decimal rate, long amount, string description)
        {
            string key = $"{sessionId}/{DocumentJson.Kebab(kind)}";
            if (ledger.Find(key) is { } metered)
            {
                return (metered, ledger.StatusOf(metered)); // metered before: never billed or audited twice
            }

            // The audit record first (evidence before effect), then the entry pointing back at it: the
            // entry's auditRecord names the record, the record names the entry's idempotency key.
            long auditRecord = await audit.RecordAsync(
                AuditEvents.ChargeRecorded(time.GetUtcNow(), sessionId, key, kind, amount, card.Currency), CancellationToken.None).ConfigureAwait(false);
            ChargeEntry entry = await ledger.RecordAsync(new ChargeRequest
            {
                IdempotencyKey = key,
                CustomerId = customerId,
                UnitId = unitId,
                SessionId = sessionId,
                Kind = kind,
                Quantity = quantity,
                QuantityUnit = unit,
                Rate = rate,
                AmountMinor = amount,
                Currency = card.Currency,
                IncurredAt = openedAt,
                Description = description,
                AuditRecord = auditRecord,
            }, CancellationToken.None).ConfigureAwait(false);
            SessionTelemetry.Charges.Add(amount, new KeyValuePair<string, object?>("currency", card.Currency), new KeyValuePair<string, object?>("kind", DocumentJson.Kebab(kind)));
            return (entry, ledger.StatusOf(entry));
        }
    }
}
