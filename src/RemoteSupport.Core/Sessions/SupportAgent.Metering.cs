using System.Globalization;
using Microsoft.Extensions.Logging;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Ledger;

namespace RemoteSupport.Sessions;

/// <summary>Metering: the session's toll charges in the ledger, the unit-signed receipt, and its audit record.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        /// <summary>Meters the session (idempotently, keyed by the session id), signs the receipt and audits it.</summary>
        private async Task<SignedEnvelope> CloseAsync(DateTimeOffset closedAt, string ending)
        {
            TollChargePolicy policy = Options.GroundRules.Current!.TollCharges;
            var card = new RateCard(policy);
            TimeSpan connected = closedAt - openedAt;
            var charges = new List<SessionCharge>();
            if (card.SetupFeeMinor > 0)
            {
                charges.Add(await ChargeAsync(ChargeKind.CallSetup, 1, "call", card.SetupFeeMinor, card.SetupFeeMinor, "Call setup", card).ConfigureAwait(false));
            }

            long seconds = card.BilledSeconds(connected);
            charges.Add(await ChargeAsync(ChargeKind.ConnectTime, seconds, "second", policy.PerMinuteMinor / 60m, card.ConnectTimeMinor(connected),
                string.Create(CultureInfo.InvariantCulture, $"Connect time {connected.TotalSeconds:0} s (billed {seconds} s)"), card).ConfigureAwait(false));

            var receipt = new SessionReceipt
            {
                SessionId = id,
                UnitId = Options.UnitId,
                CustomerId = Options.CustomerId,
                VendorId = vendor.PartyId,
                TechnicianKeyId = vendor.Key.KeyId,
                OpenedAt = openedAt,
                ClosedAt = closedAt,
                Ending = ending,
                Operations = [.. _operations],
                Charges = charges,
            };
            SignedEnvelope signed = receipt.ToEnvelope().Sign(Options.Identity);
            SessionTelemetry.Duration.Record(connected.TotalSeconds, new KeyValuePair<string, object?>("ending", ending));
            if (Options.Logger.IsEnabled(LogLevel.Information))
            {
                string charged = string.Join(", ", charges.Select(c => $"{c.Kind} {Money.Format(c.AmountMinor, c.Currency)} {c.Currency}"));
                AgentLog.SessionClosed(Options.Logger, id, ending, (long)connected.TotalSeconds, _operations.Count, charged);
            }
            await Options.Audit.RecordAsync(
                AuditEvents.SessionClosed(closedAt, id, Actor(vendor), ending, _operations.Count, DocumentJson.Hash(signed.Payload.Span)), CancellationToken.None).ConfigureAwait(false);
            return signed;
        }

        private async Task<SessionCharge> ChargeAsync(ChargeKind kind, decimal quantity, string unit, decimal rate, long amount, string description, RateCard card)
        {
            ChargeEntry entry = await Options.Ledger.RecordAsync(new ChargeRequest
            {
                IdempotencyKey = $"{id}/{(kind == ChargeKind.CallSetup ? "call-setup" : "connect-time")}",
                CustomerId = Options.CustomerId,
                UnitId = Options.UnitId,
                SessionId = id,
                Kind = kind,
                Quantity = quantity,
                QuantityUnit = unit,
                Rate = rate,
                AmountMinor = amount,
                Currency = card.Currency,
                IncurredAt = openedAt,
                Description = description,
            }, CancellationToken.None).ConfigureAwait(false);
            await Options.Audit.RecordAsync(AuditEvents.ChargeRecorded(Options.TimeProvider.GetUtcNow(), id, entry), CancellationToken.None).ConfigureAwait(false);
            SessionTelemetry.Charges.Add(amount, new KeyValuePair<string, object?>("currency", card.Currency), new KeyValuePair<string, object?>("kind", Kebab(kind.ToString())));
            return new SessionCharge(entry.EntryId, kind, amount, card.Currency, Options.Ledger.StatusOf(entry));
        }
    }
}
