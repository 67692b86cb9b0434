using System.Globalization;
using System.Text.Json;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Journal;

namespace RemoteSupport.Audit;

/// <summary>What an audit event records.</summary>
public enum AuditEventKind
{
    /// <summary>A support session opened.</summary>
    SessionOpened = 1,

    /// <summary>A support session closed.</summary>
    SessionClosed,

    /// <summary>The vendor's authorization was checked.</summary>
    AuthorizationChecked,

    /// <summary>The consent gate decided a request.</summary>
    ConsentDecided,

    /// <summary>A data file was viewed (with its hash).</summary>
    DataFileViewed,

    /// <summary>A data file was changed (with its hashes before and after).</summary>
    DataFileChanged,

    /// <summary>A fix package was verified.</summary>
    FixVerified,

    /// <summary>A fix was installed.</summary>
    FixInstalled,

    /// <summary>A fix was rolled back.</summary>
    FixRolledBack,

    /// <summary>A toll charge was recorded.</summary>
    ChargeRecorded,

    /// <summary>A monthly statement was issued.</summary>
    StatementIssued,
}

/// <summary>
/// One audit record (schema version 1). Every field is inside the hashed journal record; the
/// details are strings named by the event kind (docs/formats/audit.md).
/// </summary>
public sealed record AuditEvent
{
    /// <summary>The schema version written in every record.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>Gets the schema version.</summary>
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>Gets what happened.</summary>
    public required AuditEventKind Kind { get; init; }

    /// <summary>Gets when it happened.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>Gets the session, when there is one.</summary>
    public string? SessionId { get; init; }

    /// <summary>Gets who acted (a party and key id), when known.</summary>
    public string? Actor { get; init; }

    /// <summary>Gets the event's details.</summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// The tamper-evident audit log on an <see cref="IRecordJournal"/> (by default an <see cref="AppendOnlyJournal"/> file): each event is a durable,
/// hashed record; it is also the consent gate's audit sink, so every decision is on disk before the
/// operation runs.
/// </summary>
public sealed class AuditLog : IConsentAuditSink
{
    private readonly IRecordJournal _journal;
    private readonly TimeProvider _time;

    /// <summary>Creates the log over <paramref name="journal"/>.</summary>
    public AuditLog(IRecordJournal journal, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(journal);
        _journal = journal;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the journal under the log.</summary>
    public IRecordJournal Journal => _journal;

    /// <summary>Records an event durably; returns its record index.</summary>
    public ValueTask<long> RecordAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        return _journal.AppendAsync(DocumentJson.Serialize(auditEvent), cancellationToken);
    }

    /// <summary>Records a consent decision (the gate calls this before it returns the decision).</summary>
    async ValueTask IConsentAuditSink.RecordAsync(ConsentDecision decision, CancellationToken cancellationToken) =>
        await RecordAsync(new AuditEvent
        {
            Kind = AuditEventKind.ConsentDecided,
            At = decision.DecidedAt,
            SessionId = decision.Request.SessionId,
            Actor = $"{decision.Request.TechnicianId}/{decision.Request.TechnicianKey.KeyId}",
            Details = new Dictionary<string, string>
            {
                ["decisionId"] = decision.DecisionId,
                ["operation"] = decision.Request.Operation.ToString(),
                ["unit"] = decision.Request.UnitId,
                ["root"] = decision.Request.Root ?? string.Empty,
                ["path"] = decision.CanonicalPath ?? decision.Request.Path ?? string.Empty,
                ["owner"] = decision.Request.Owner ?? string.Empty,
                ["outcome"] = decision.Outcome.ToString(),
                ["reason"] = decision.Reason.ToString(),
                ["sentence"] = decision.Sentence,
                ["approvals"] = string.Join(",", decision.ApprovalsUsed),
            },
        }, cancellationToken).ConfigureAwait(false);

    /// <summary>Records that a data file was viewed or changed, with its hashes.</summary>
    public ValueTask<long> RecordDataFileAsync(ConsentDecision decision, DataFileEvidence evidence, CancellationToken cancellationToken = default) =>
        RecordDataFileAsync(decision, evidence, null, cancellationToken);

    /// <summary>
    /// Records a view or change; for a streamed view, <paramref name="streamed"/> says how many bytes were
    /// actually sent and whether that was the whole file (the hashes are of the bytes sent).
    /// </summary>
    internal ValueTask<long> RecordDataFileAsync(ConsentDecision decision, DataFileEvidence evidence, (long BytesSent, bool Complete)? streamed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(evidence);
        var details = new Dictionary<string, string>
        {
            ["decisionId"] = decision.DecisionId,
            ["root"] = evidence.Root,
            ["path"] = evidence.Path,
            ["owner"] = decision.Request.Owner ?? string.Empty,
            ["hashBefore"] = evidence.HashBefore ?? "absent",
            ["hashAfter"] = evidence.HashAfter ?? "absent",
        };
        if (streamed is { } sent)
        {
            details["bytesSent"] = sent.BytesSent.ToString(System.Globalization.CultureInfo.InvariantCulture);
            details["complete"] = sent.Complete ? "true" : "false";
        }

        bool changed = evidence.HashBefore != evidence.HashAfter || decision.Request.Operation == GroundRules.SupportOperation.ChangeData;
        return RecordAsync(new AuditEvent
        {
            Kind = changed ? AuditEventKind.DataFileChanged : AuditEventKind.DataFileViewed,
            At = _time.GetUtcNow(),
            SessionId = decision.Request.SessionId,
            Actor = $"{decision.Request.TechnicianId}/{decision.Request.TechnicianKey.KeyId}",
            Details = details,
        }, cancellationToken);
    }

    /// <summary>Reads the events of an exported audit journal (strictly: damage names the record).</summary>
    public static async Task<IReadOnlyList<AuditEvent>> ReadExportAsync(string exportPath, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<byte[]> records = await AppendOnlyJournal.ReadAllRecordsAsync(exportPath, cancellationToken).ConfigureAwait(false);
        var events = new List<AuditEvent>(records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            try
            {
                AuditEvent auditEvent = JsonSerializer.Deserialize<AuditEvent>(records[i], DocumentJson.Options)
                    ?? throw new JournalException(string.Create(CultureInfo.InvariantCulture, $"Record {i} is empty."));
                if (auditEvent.SchemaVersion != AuditEvent.CurrentSchemaVersion)
                {
                    throw new JournalException(string.Create(CultureInfo.InvariantCulture, $"Record {i} has schema version {auditEvent.SchemaVersion}, not {AuditEvent.CurrentSchemaVersion}."));
                }

                events.Add(auditEvent);
            }
            catch (JsonException ex)
            {
                throw new JournalException(string.Create(CultureInfo.InvariantCulture, $"Record {i} is not an audit event: {ex.Message}"), ex);
            }
        }

        return events;
    }
}
