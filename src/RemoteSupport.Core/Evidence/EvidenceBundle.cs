using System.Globalization;
using System.Text;
using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Trust;

namespace RemoteSupport.Evidence;

/// <summary>A journal and a signed checkpoint of it (docs/formats/journal.md), as they go into an evidence bundle.</summary>
/// <param name="Journal">The journal, exported whole.</param>
/// <param name="Checkpoint">A signed checkpoint of it.</param>
public sealed record EvidenceJournal(IRecordJournal Journal, string Checkpoint);

/// <summary>A vendor's signed statement and its CSV, as they go into an evidence bundle.</summary>
/// <param name="Statement">The signed statement.</param>
/// <param name="Csv">Its CSV: <see cref="Ledger.MonthlyStatement.ToCsv"/>, or what a large statement's lines were written to.</param>
public sealed record EvidenceStatement(SignedEnvelope Statement, string Csv);

/// <summary>What goes into an evidence bundle: the unit's journals with signed checkpoints, its trust, and the documents the customer holds.</summary>
public sealed class EvidenceContents
{
    /// <summary>Gets or sets the customer the unit belongs to.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets or sets the unit.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets or sets the vendor whose statements and signatures the bundle carries.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets or sets the start of the period the bundle is for (inclusive).</summary>
    public required DateTimeOffset From { get; init; }

    /// <summary>Gets or sets the end of the period (exclusive).</summary>
    public required DateTimeOffset Until { get; init; }

    /// <summary>Gets or sets the unit's trust store, written as its snapshot (keys with roles and validity, revocations, retired keys).</summary>
    public required TrustStore Trust { get; init; }

    /// <summary>Gets or sets the unit's audit journal (exported whole) and a signed checkpoint of it.</summary>
    public required EvidenceJournal Audit { get; init; }

    /// <summary>Gets or sets the unit's charge ledger journal and a signed checkpoint of it.</summary>
    public required EvidenceJournal Ledger { get; init; }

    /// <summary>Gets the vendor's signed statements, each with its CSV.</summary>
    public IList<EvidenceStatement> Statements { get; } = [];

    /// <summary>Gets or sets the vendor's issued-statements journal and a signed checkpoint of it, when the vendor handed them over.</summary>
    public EvidenceJournal? StatementJournal { get; set; }

    /// <summary>Gets the session receipts the unit signed.</summary>
    public IList<SignedEnvelope> SessionReceipts { get; } = [];

    /// <summary>Gets the install receipts the unit signed.</summary>
    public IList<SignedEnvelope> InstallReceipts { get; } = [];

    /// <summary>Gets the approvals the customer's approvers signed.</summary>
    public IList<SignedEnvelope> Approvals { get; } = [];
}

/// <summary>One file of a bundle, as its manifest lists it.</summary>
/// <param name="Path">The path below the bundle folder, with <c>/</c> separators.</param>
/// <param name="Kind">What it is (docs/formats/evidence.md): <c>trust</c>, <c>audit-journal</c>, <c>statement</c>, ….</param>
/// <param name="Sha256">The SHA-256 of the file's bytes, lowercase hex.</param>
/// <param name="Length">The file's length in bytes.</param>
public sealed record EvidenceArtifact(string Path, string Kind, string Sha256, long Length);

/// <summary>The signed manifest of an evidence bundle (version 1): who and what period it is for, and every file with its hash.</summary>
public sealed record EvidenceManifest
{
    /// <summary>The document type.</summary>
    public static DocumentType DocumentType { get; } = new("evidence-bundle", 1);

    /// <summary>Gets the customer.</summary>
    public required string CustomerId { get; init; }

    /// <summary>Gets the unit.</summary>
    public required string UnitId { get; init; }

    /// <summary>Gets the vendor.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the start of the period (inclusive).</summary>
    public required DateTimeOffset From { get; init; }

    /// <summary>Gets the end of the period (exclusive).</summary>
    public required DateTimeOffset Until { get; init; }

    /// <summary>Gets when the bundle was written.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets every file of the bundle but the manifest, by path.</summary>
    public required IReadOnlyList<EvidenceArtifact> Artifacts { get; init; }

    /// <summary>Reads a manifest from its envelope (signatures are the verifier's business).</summary>
    /// <exception cref="EnvelopeFormatException">Not a version-1 evidence manifest.</exception>
    public static EvidenceManifest FromEnvelope(SignedEnvelope envelope) => DocumentJson.Deserialize<EvidenceManifest>(envelope, DocumentType);
}

/// <summary>Writes evidence bundles (docs/formats/evidence.md): one folder an auditor verifies offline with <see cref="EvidenceVerifier"/>.</summary>
public static class EvidenceBundle
{
    /// <summary>The file name of the signed manifest in a bundle folder.</summary>
    public const string ManifestFile = "manifest.json";

    /// <summary>
    /// Writes <paramref name="contents"/> into the new folder <paramref name="folder"/> and signs the manifest with
    /// <paramref name="signer"/> (the unit's key, the one its checkpoints are signed with). Every file is fsynced.
    /// </summary>
    /// <returns>The signed manifest.</returns>
    /// <param name="folder">The bundle folder; it must not exist or be empty.</param>
    /// <param name="contents">What goes in.</param>
    /// <param name="signer">Who vouches for the bundle.</param>
    /// <param name="timeProvider">The clock for <see cref="EvidenceManifest.CreatedAt"/>.</param>
    /// <param name="cancellationToken">Stops the export.</param>
    /// <exception cref="IOException">The folder exists and is not empty.</exception>
    public static async Task<SignedEnvelope> WriteAsync(
        string folder, EvidenceContents contents, PartyIdentity signer, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(contents);
        ArgumentNullException.ThrowIfNull(signer);
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
        {
            throw new IOException($"The evidence folder '{folder}' is not empty.");
        }

        Directory.CreateDirectory(folder);
        await WriteTextAsync(folder, "trust.json", TrustSnapshot.ToJson(contents.Trust, timeProvider ?? TimeProvider.System), cancellationToken).ConfigureAwait(false);
        await contents.Audit.Journal.ExportAsync(Path.Combine(folder, "audit.journal"), cancellationToken).ConfigureAwait(false);
        await WriteTextAsync(folder, "audit.checkpoint", contents.Audit.Checkpoint, cancellationToken).ConfigureAwait(false);
        await contents.Ledger.Journal.ExportAsync(Path.Combine(folder, "ledger.journal"), cancellationToken).ConfigureAwait(false);
        await WriteTextAsync(folder, "ledger.checkpoint", contents.Ledger.Checkpoint, cancellationToken).ConfigureAwait(false);
        if (contents.StatementJournal is { } statements)
        {
            await statements.Journal.ExportAsync(Path.Combine(folder, "statements.journal"), cancellationToken).ConfigureAwait(false);
            await WriteTextAsync(folder, "statements.checkpoint", statements.Checkpoint, cancellationToken).ConfigureAwait(false);
        }

        foreach ((SignedEnvelope statement, string csv) in contents.Statements)
        {
            Ledger.MonthlyStatement read = Ledger.MonthlyStatement.FromEnvelope(statement);
            string name = string.Create(CultureInfo.InvariantCulture, $"statements/{read.CustomerId}-{read.Month}-{read.Number}");
            await WriteTextAsync(folder, name + ".json", statement.ToJson(indented: true), cancellationToken).ConfigureAwait(false);
            await WriteTextAsync(folder, name + ".csv", csv, cancellationToken).ConfigureAwait(false);
        }

        await WriteDocumentsAsync(folder, "receipts/session-", contents.SessionReceipts, cancellationToken).ConfigureAwait(false);
        await WriteDocumentsAsync(folder, "receipts/install-", contents.InstallReceipts, cancellationToken).ConfigureAwait(false);
        await WriteDocumentsAsync(folder, "approvals/approval-", contents.Approvals, cancellationToken).ConfigureAwait(false);
        return await SealAsync(folder, contents.CustomerId, contents.UnitId, contents.VendorId, contents.From, contents.Until, signer, timeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lists every file of the folder with its kind and hash in a manifest signed by <paramref name="signer"/>, and writes it.</summary>
    internal static async Task<SignedEnvelope> SealAsync(
        string folder, string customerId, string unitId, string vendorId, DateTimeOffset from, DateTimeOffset until, PartyIdentity signer,
        TimeProvider? timeProvider, CancellationToken cancellationToken)
    {
        var artifacts = new List<EvidenceArtifact>();
        foreach (string path in Files(folder))
        {
            string relative = Relative(folder, path);
            if (relative == ManifestFile)
            {
                continue;
            }

            byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            artifacts.Add(new EvidenceArtifact(relative, KindOf(relative) ?? "unknown", Sha256Hex.Of(bytes), bytes.LongLength));
        }

        var manifest = new EvidenceManifest
        {
            CustomerId = customerId,
            UnitId = unitId,
            VendorId = vendorId,
            From = from,
            Until = until,
            CreatedAt = (timeProvider ?? TimeProvider.System).GetUtcNow(),
            Artifacts = artifacts,
        };
        SignedEnvelope signed = SignedEnvelope.Create(EvidenceManifest.DocumentType, DocumentJson.Serialize(manifest)).Sign(signer);
        await WriteTextAsync(folder, ManifestFile, signed.ToJson(indented: true), cancellationToken).ConfigureAwait(false);
        return signed;
    }

    /// <summary>The kind of a bundle file, from its path (docs/formats/evidence.md), or null for a path the format does not define.</summary>
    internal static string? KindOf(string relative) => relative switch
    {
        "trust.json" => "trust",
        "audit.journal" => "audit-journal",
        "audit.checkpoint" => "audit-checkpoint",
        "ledger.journal" => "ledger-journal",
        "ledger.checkpoint" => "ledger-checkpoint",
        "statements.journal" => "statements-journal",
        "statements.checkpoint" => "statements-checkpoint",
        _ when relative.StartsWith("statements/", StringComparison.Ordinal) && relative.EndsWith(".json", StringComparison.Ordinal) => "statement",
        _ when relative.StartsWith("statements/", StringComparison.Ordinal) && relative.EndsWith(".csv", StringComparison.Ordinal) => "statement-csv",
        _ when relative.StartsWith("receipts/session-", StringComparison.Ordinal) => "session-receipt",
        _ when relative.StartsWith("receipts/install-", StringComparison.Ordinal) => "install-receipt",
        _ when relative.StartsWith("approvals/", StringComparison.Ordinal) => "approval",
        _ => null,
    };

    internal static IEnumerable<string> Files(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    internal static string Relative(string folder, string path) => Path.GetRelativePath(folder, path).Replace('\\', '/');

    private static async Task WriteDocumentsAsync(string folder, string prefix, IEnumerable<SignedEnvelope> documents, CancellationToken cancellationToken)
    {
        foreach (SignedEnvelope document in documents)
        {
            // Named by payload hash: one file per document, and a name the verifier can check.
            await WriteTextAsync(folder, prefix + DocumentJson.Hash(document.Payload.Span)[..16] + ".json", document.ToJson(indented: true), cancellationToken).ConfigureAwait(false);
        }
    }

    private static Task WriteTextAsync(string folder, string relative, string text, CancellationToken cancellationToken)
    {
        string path = Path.Combine(folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return DurableFile.WriteAsync(path, Encoding.UTF8.GetBytes(text), overwrite: relative == ManifestFile, cancellationToken: cancellationToken);
    }
}

/// <summary>The trust snapshot of a bundle (<c>trust.json</c>, docs/formats/evidence.md).</summary>
internal static class TrustSnapshot
{
    public const int SchemaVersion = 1;

    public static string ToJson(TrustStore trust, TimeProvider time)
    {
        (IReadOnlyList<KeySet> sets, IReadOnlyList<TrustedKey> retired) = trust.Snapshot();
        var snapshot = new Snapshot(
            SchemaVersion,
            time.GetUtcNow(),
            [.. sets.OrderBy(s => s.PartyId, StringComparer.Ordinal).ThenBy(s => s.Role)
                .Select(s => new SnapshotKeySet(s.PartyId, s.Role, s.Threshold, s.Sequence, [.. s.Keys.Select(Key)]))],
            [.. retired.Select(Key)]);
        return JsonSerializer.Serialize(snapshot, DocumentJson.Indented);
    }

    public static Snapshot Parse(byte[] json) =>
        JsonSerializer.Deserialize<Snapshot>(json, DocumentJson.Options) ?? throw new JsonException("An empty trust snapshot.");

    private static SnapshotKey Key(TrustedKey key) =>
        new(key.Key.ToString(), key.Key.KeyId, key.PartyId, key.Role, key.NotBefore, key.NotAfter, key.RevokedAt, key.RevocationReason);

    internal sealed record Snapshot(int SchemaVersion, DateTimeOffset TakenAt, IReadOnlyList<SnapshotKeySet> KeySets, IReadOnlyList<SnapshotKey> Retired);

    internal sealed record SnapshotKeySet(string PartyId, PartyRole Role, int Threshold, long Sequence, IReadOnlyList<SnapshotKey> Keys);

    internal sealed record SnapshotKey(
        string Key, string KeyId, string PartyId, PartyRole Role, DateTimeOffset? NotBefore, DateTimeOffset? NotAfter, DateTimeOffset? RevokedAt, string? RevocationReason);
}
