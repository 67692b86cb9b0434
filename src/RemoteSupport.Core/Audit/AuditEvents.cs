using System.Globalization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Ledger;

namespace RemoteSupport.Audit;

/// <summary>
/// One factory per audit event kind, so every event of a kind has the same details, named in one style:
/// keys and enum values in kebab case (docs/formats/audit.md lists each kind's keys).
/// </summary>
internal static class AuditEvents
{
    public static AuditEvent SessionOpened(DateTimeOffset at, string sessionId, string actor, string unitId, int version) =>
        Event(AuditEventKind.SessionOpened, at, sessionId, actor, new()
        {
            ["unit"] = unitId,
            ["version"] = Number(version),
        });

    public static AuditEvent SessionClosed(DateTimeOffset at, string sessionId, string actor, string ending, int operations, string receiptSha256) =>
        Event(AuditEventKind.SessionClosed, at, sessionId, actor, new()
        {
            ["ending"] = ending,
            ["operations"] = Number(operations),
            ["receipt-sha256"] = receiptSha256,
        });

    public static AuditEvent AuthorizationRefused(DateTimeOffset at, string actor, string sentence) =>
        Event(AuditEventKind.AuthorizationChecked, at, null, actor, new()
        {
            ["outcome"] = "refused",
            ["reason"] = sentence,
        });

    public static AuditEvent UnitWithdrawn(DateTimeOffset at, string sentence) =>
        Event(AuditEventKind.AuthorizationChecked, at, null, null, new()
        {
            ["outcome"] = "withdrawn",
            ["reason"] = sentence,
        });

    public static AuditEvent ConsentDecided(ConsentDecision decision) =>
        Event(AuditEventKind.ConsentDecided, decision.DecidedAt, decision.Request.SessionId, Technician(decision), new()
        {
            ["decision-id"] = decision.DecisionId,
            ["operation"] = Kebab(decision.Request.Operation),
            ["unit"] = decision.Request.UnitId,
            ["root"] = decision.Request.Root ?? string.Empty,
            ["path"] = decision.CanonicalPath ?? decision.Request.Path ?? string.Empty,
            ["owner"] = decision.Request.Owner ?? string.Empty,
            ["outcome"] = Kebab(decision.Outcome),
            ["reason"] = Kebab(decision.Reason),
            ["sentence"] = decision.Sentence,
            ["approvals"] = string.Join(",", decision.ApprovalsUsed),
        });

    public static AuditEvent DataFile(DateTimeOffset at, ConsentDecision decision, DataFileEvidence evidence, (long BytesSent, bool Complete)? streamed)
    {
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["decision-id"] = decision.DecisionId,
            ["root"] = evidence.Root,
            ["path"] = evidence.Path,
            ["owner"] = decision.Request.Owner ?? string.Empty,
            ["hash-before"] = evidence.HashBefore ?? "absent",
            ["hash-after"] = evidence.HashAfter ?? "absent",
        };
        if (streamed is { } sent)
        {
            details["bytes-sent"] = Number(sent.BytesSent);
            details["complete"] = sent.Complete ? "true" : "false";
        }

        bool changed = evidence.HashBefore != evidence.HashAfter || decision.Request.Operation == GroundRules.SupportOperation.ChangeData;
        return Event(changed ? AuditEventKind.DataFileChanged : AuditEventKind.DataFileViewed, at, decision.Request.SessionId, Technician(decision), details);
    }

    /// <summary>An install receipt's event: installed, rolled back, or refused (never "verified" for a refusal).</summary>
    public static AuditEvent FixReceipt(InstallReceipt receipt, SignedEnvelope signed, string unitKeyId) =>
        Event(
            receipt.Outcome switch
            {
                InstallResult.Installed => AuditEventKind.FixInstalled,
                InstallResult.RolledBack => AuditEventKind.FixRolledBack,
                _ => AuditEventKind.FixRefused,
            },
            receipt.At,
            receipt.SessionId,
            "unit/" + unitKeyId,
            new()
            {
                ["package-id"] = receipt.PackageId ?? "unknown",
                ["version"] = receipt.Version ?? "unknown",
                ["package-hash"] = receipt.PackageHash ?? "unknown",
                ["result"] = Kebab(receipt.Outcome),
                ["reason"] = receipt.Reason,
                ["receipt"] = signed.ToJson(),
            });

    /// <summary>A charge about to be recorded in the ledger; the ledger entry's <c>auditRecord</c> points back at this record.</summary>
    public static AuditEvent ChargeRecorded(DateTimeOffset at, string sessionId, string idempotencyKey, ChargeKind kind, long amountMinor, string currency) =>
        Event(AuditEventKind.ChargeRecorded, at, sessionId, null, new()
        {
            ["idempotency-key"] = idempotencyKey,
            ["kind"] = Kebab(kind),
            ["amount-minor"] = Number(amountMinor),
            ["currency"] = currency,
        });

    public static AuditEvent StatementIssued(DateTimeOffset at, MonthlyStatement statement, SignedEnvelope signed) =>
        Event(AuditEventKind.StatementIssued, at, null, null, new()
        {
            ["customer"] = statement.CustomerId,
            ["month"] = statement.Month,
            ["number"] = Number(statement.Number),
            ["lines"] = Number(statement.LineCount),
            ["totals"] = string.Join(",", statement.Totals.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}:{Number(t.Value)}")),
            ["statement-sha256"] = DocumentJson.Hash(signed.Payload.Span),
        });

    public static AuditEvent DocumentAccepted(DateTimeOffset at, SignedEnvelope document, string sentence) =>
        Event(AuditEventKind.DocumentAccepted, at, null, null, new()
        {
            ["payload-type"] = document.PayloadType,
            ["document-sha256"] = DocumentJson.Hash(document.Payload.Span),
            ["document"] = document.ToJson(),
            ["sentence"] = sentence,
        });

    public static AuditEvent KeyRevoked(DateTimeOffset at, Identities.PartyKey key, string reason) =>
        Event(AuditEventKind.KeyRevoked, at, null, null, new()
        {
            ["key"] = key.ToString(),
            ["key-id"] = key.KeyId,
            ["reason"] = reason,
        });

    public static AuditEvent ApprovalUsed(DateTimeOffset at, string approvalId, int use, int maxUses) =>
        Event(AuditEventKind.ApprovalUsed, at, null, null, new()
        {
            ["approval-id"] = approvalId,
            ["use"] = Number(use),
            ["max-uses"] = Number(maxUses),
        });

    private static string Kebab<TEnum>(TEnum value)
        where TEnum : struct, Enum => DocumentJson.Kebab(value);

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Technician(ConsentDecision decision) => $"{decision.Request.TechnicianId}/{decision.Request.TechnicianKey.KeyId}";

    private static AuditEvent Event(AuditEventKind kind, DateTimeOffset at, string? sessionId, string? actor, Dictionary<string, string> details) =>
        new() { Kind = kind, At = at, SessionId = sessionId, Actor = actor, Details = details };
}
