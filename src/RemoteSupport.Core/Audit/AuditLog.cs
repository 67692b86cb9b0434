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

    /// <summary>A fix package was verified (kept for records written before <see cref="FixRefused"/>; no longer written).</summary>
    FixVerified,

    /// <summary>A fix was installed.</summary>
    FixInstalled,

    /// <summary>A fix was rolled back.</summary>
    FixRolledBack,

    /// <summary>A toll charge was recorded.</summary>
    ChargeRecorded,

    /// <summary>A monthly statement was issued.</summary>
    StatementIssued,

    /// <summary>A fix package was refused (not verified, or its consent did not bind it): nothing was installed.</summary>
    FixRefused,

    /// <summary>A signed contract document was accepted into the unit's contract state; the record carries the whole document (docs/formats/contract-state.md).</summary>
    DocumentAccepted,

    /// <summary>A trusted key was revoked on the unit (contract state).</summary>
    KeyRevoked,

    /// <summary>One use of an approval was consumed (contract state; the use limit is counted from these records).</summary>
    ApprovalUsed,
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
        await RecordAsync(AuditEvents.ConsentDecided(decision), cancellationToken).ConfigureAwait(false);

    /// <summary>Records that a data file was viewed or changed, with its hashes.</summary>
    /// <returns>The event's record index.</returns>
    /// <param name="decision">The consent decision the operation ran under.</param>
    /// <param name="evidence">The file's hashes.</param>
    /// <param name="cancellationToken">Stops waiting for the journal.</param>
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
        return RecordAsync(AuditEvents.DataFile(_time.GetUtcNow(), decision, evidence, streamed), cancellationToken);
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
