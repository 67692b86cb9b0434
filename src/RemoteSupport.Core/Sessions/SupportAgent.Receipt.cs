using Microsoft.Extensions.Logging;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.Ledger;

namespace RemoteSupport.Sessions;

/// <summary>The session's end: metered (<see cref="SessionMeter"/>), the unit-signed receipt, and its audit record.</summary>
public sealed partial class SupportAgent
{
    private sealed partial class RunningSession
    {
        /// <summary>Meters the session (idempotently, keyed by the session id), signs the receipt and audits it.</summary>
        private async Task<SignedEnvelope> CloseAsync(DateTimeOffset closedAt, string ending)
        {
            // The toll-charge condition lives in Ledger/: the meter records and audits each charge.
            IReadOnlyList<(ChargeEntry Entry, ChargeStatus Status)> metered = await new SessionMeter(Options.Ledger, Options.GroundRules, Options.Audit, Options.TimeProvider)
                .MeterAsync(id, Options.CustomerId, Options.UnitId, openedAt, closedAt).ConfigureAwait(false);
            SessionCharge[] charges = [.. metered.Select(c => new SessionCharge(c.Entry.EntryId, c.Entry.Charge.Kind, c.Entry.Charge.AmountMinor, c.Entry.Charge.Currency, c.Status))];
            TimeSpan connected = closedAt - openedAt;

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
    }
}
