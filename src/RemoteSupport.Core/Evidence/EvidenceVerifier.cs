using System.Globalization;
using System.Text;
using System.Text.Json;
using RemoteSupport.Audit;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Trust;

namespace RemoteSupport.Evidence;

/// <summary>What is wrong with an artifact of an evidence bundle.</summary>
public enum EvidenceProblem
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>A file the manifest lists (or a statement's CSV) is not in the bundle.</summary>
    Missing,

    /// <summary>A file is in the bundle but not in the manifest.</summary>
    Unlisted,

    /// <summary>A file's bytes do not have the hash or length the manifest lists.</summary>
    HashMismatch,

    /// <summary>A file is not what its kind says (not an envelope, not a journal, a field missing, a path outside the bundle).</summary>
    Malformed,

    /// <summary>A document or checkpoint is not signed by the party it needs, under the auditor's trust.</summary>
    NotSigned,

    /// <summary>A journal does not match its signed checkpoint, or a statement's ledger checkpoint does not match the bundle's ledger.</summary>
    JournalMismatch,

    /// <summary>A receipt or approval has no record of it in the unit's audit journal.</summary>
    NotInAudit,

    /// <summary>A statement is not a record of the issued-statements journal.</summary>
    NotInJournal,

    /// <summary>Two artifacts disagree (a statement and its CSV, the trust snapshot and the journal's contract records, a ledger entry and its audit record).</summary>
    Inconsistent,
}

/// <summary>One finding of <see cref="EvidenceVerifier"/>: the artifact (a path in the bundle), why, and a sentence.</summary>
/// <param name="Artifact">The file the finding is about, relative to the bundle folder.</param>
/// <param name="Reason">What is wrong.</param>
/// <param name="Sentence">The problem in a sentence, naming the record or document where there is one.</param>
public sealed record EvidenceFinding(string Artifact, EvidenceProblem Reason, string Sentence);

/// <summary>The outcome of verifying an evidence bundle: valid when there is no finding.</summary>
/// <param name="Findings">Every problem found, each naming its artifact.</param>
/// <param name="Artifacts">The artifacts the manifest lists.</param>
public sealed record EvidenceVerification(IReadOnlyList<EvidenceFinding> Findings, IReadOnlyList<EvidenceArtifact> Artifacts)
{
    /// <summary>Gets a value indicating whether the bundle verified without a finding.</summary>
    public bool IsValid => Findings.Count == 0;

    /// <summary>Gets a sentence saying what was verified, or how many problems were found.</summary>
    public string Sentence => IsValid
        ? string.Create(CultureInfo.InvariantCulture, $"All {Artifacts.Count} artifacts verified.")
        : string.Create(CultureInfo.InvariantCulture, $"{Findings.Count} problem(s) in {Findings.Select(f => f.Artifact).Distinct(StringComparer.Ordinal).Count()} artifact(s): ")
            + string.Join(" ", Findings.Select(f => $"{f.Artifact}: {f.Sentence}"));
}

/// <summary>
/// Verifies an evidence bundle offline (docs/formats/evidence.md), under the auditor's own trust: the
/// customer's unit keys, approver keys and the vendor's keys, as the customer enrolled them. Every
/// check runs; each problem is a finding naming the artifact and the reason. Never throws for a bad bundle.
/// </summary>
public static partial class EvidenceVerifier
{
    /// <summary>Verifies the bundle in <paramref name="bundleFolder"/>.</summary>
    /// <returns>The findings; <see cref="EvidenceVerification.IsValid"/> when there are none.</returns>
    /// <param name="bundleFolder">The bundle folder.</param>
    /// <param name="trust">The auditor's trust: the keys the customer knows for its units, approvers and vendor.</param>
    /// <param name="cancellationToken">Stops the verification.</param>
    public static async Task<EvidenceVerification> VerifyAsync(string bundleFolder, TrustStore trust, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(bundleFolder);
        ArgumentNullException.ThrowIfNull(trust);
        var run = new Run(Path.TrimEndingDirectorySeparator(Path.GetFullPath(bundleFolder)), trust);
        EvidenceManifest? read = null;
        await run.GuardAsync(EvidenceBundle.ManifestFile, async () => read = await run.ReadManifestAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        if (read is not { CustomerId: not null, UnitId: not null, VendorId: not null } manifest)
        {
            if (read is not null)
            {
                run.Findings.Add(new EvidenceFinding(EvidenceBundle.ManifestFile, EvidenceProblem.Malformed, "The manifest does not name the customer, the unit and the vendor."));
            }

            return new EvidenceVerification(run.Findings, []);
        }

        await run.GuardAsync(EvidenceBundle.ManifestFile, () => run.CheckFilesAsync(manifest, cancellationToken)).ConfigureAwait(false);
        await run.GuardAsync("audit.journal", () => run.CheckJournalsAsync(cancellationToken)).ConfigureAwait(false);
        await run.GuardAsync("trust.json", () => { run.CheckTrust(); return Task.CompletedTask; }).ConfigureAwait(false);
        await run.GuardAsync("statements/", () => { run.CheckStatements(); return Task.CompletedTask; }).ConfigureAwait(false);
        await run.GuardAsync("receipts/", () => { run.CheckReceiptsAndApprovals(); return Task.CompletedTask; }).ConfigureAwait(false);
        return new EvidenceVerification(run.Findings, manifest.Artifacts ?? []);
    }

    private sealed partial class Run(string folder, TrustStore trust)
    {
        private const long MaxInMemoryBytes = 256L * 1024 * 1024;
        private readonly Dictionary<string, byte[]> _files = new(StringComparer.Ordinal); // verified artifacts (journals: empty, read from their files)
        private readonly List<AuditEvent> _audit = [];
        private List<byte[]> _ledgerRecords = [];
        private List<byte[]>? _statementRecords;
        private EvidenceManifest _manifest = null!;

        public List<EvidenceFinding> Findings { get; } = [];

        /// <summary>
        /// Runs one stage of the checks; input this verifier did not foresee (a field of the wrong JSON type, an unreadable
        /// file) becomes a finding on <paramref name="artifact"/> instead of an exception, and the other stages still run.
        /// </summary>
        public async Task GuardAsync(string artifact, Func<Task> stage)
        {
            try
            {
                await stage().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException
                or EnvelopeFormatException or IOException or UnauthorizedAccessException or NullReferenceException or KeyNotFoundException)
            {
                Find(artifact, EvidenceProblem.Malformed, $"Could not be checked ({ex.GetType().Name}): {ex.Message}");
            }
        }

        public async Task<EvidenceManifest?> ReadManifestAsync(CancellationToken cancellationToken)
        {
            string path = Path.Combine(folder, EvidenceBundle.ManifestFile);
            if (!File.Exists(path))
            {
                Find(EvidenceBundle.ManifestFile, EvidenceProblem.Missing, "The bundle has no manifest.");
                return null;
            }

            byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            if (!SignedEnvelope.TryParse(bytes, out SignedEnvelope? envelope, out string? error))
            {
                Find(EvidenceBundle.ManifestFile, EvidenceProblem.Malformed, "The manifest is not an envelope: " + error);
                return null;
            }

            try
            {
                _manifest = EvidenceManifest.FromEnvelope(envelope);
            }
            catch (EnvelopeFormatException ex)
            {
                Find(EvidenceBundle.ManifestFile, EvidenceProblem.Malformed, ex.Message);
                return null;
            }

            VerificationResult signed = trust.Verify(envelope, new SignaturePolicy(EvidenceManifest.DocumentType, new SignatureRequirement(_manifest.CustomerId, PartyRole.Unit, 1)));
            if (!signed.IsValid)
            {
                Find(EvidenceBundle.ManifestFile, EvidenceProblem.NotSigned, $"The manifest is not signed by a unit key of {_manifest.CustomerId}: {signed.Sentence}");
            }

            return _manifest;
        }

        /// <summary>Every listed file is there with its hash and length, inside the folder and not a link; no file is unlisted.</summary>
        public async Task CheckFilesAsync(EvidenceManifest manifest, CancellationToken cancellationToken)
        {
            var listed = new HashSet<string>(StringComparer.Ordinal) { EvidenceBundle.ManifestFile };
            foreach (EvidenceArtifact? artifact in manifest.Artifacts ?? [])
            {
                if (artifact?.Path is not { Length: > 0 } relative || artifact.Kind is null || artifact.Sha256 is null)
                {
                    Find(EvidenceBundle.ManifestFile, EvidenceProblem.Malformed, "The manifest lists an artifact without a path, kind or hash.");
                    continue;
                }

                if (relative.Contains('\\', StringComparison.Ordinal) || relative.Contains('\0', StringComparison.Ordinal) || !IsInside(Path.Combine(folder, relative)))
                {
                    Find(relative, EvidenceProblem.Malformed, "The manifest lists a path outside the bundle.");
                    continue;
                }

                if (!listed.Add(relative))
                {
                    Find(relative, EvidenceProblem.Malformed, "The manifest lists the file twice.");
                    continue;
                }

                if (EvidenceBundle.KindOf(relative) != artifact.Kind)
                {
                    Find(relative, EvidenceProblem.Malformed, $"The manifest calls it '{artifact.Kind}'; its path makes it '{EvidenceBundle.KindOf(relative) ?? "nothing this format defines"}'.");
                }

                var file = new FileInfo(Path.Combine(folder, relative));
                if (!file.Exists)
                {
                    Find(relative, EvidenceProblem.Missing, "The manifest lists it; the bundle does not hold it.");
                    continue;
                }

                if (IsLinked(file))
                {
                    Find(relative, EvidenceProblem.Malformed, "It is a link (or lies below one): a bundle holds files only, and nothing outside it is read.");
                    continue;
                }

                if (file.Length != artifact.Length)
                {
                    Find(relative, EvidenceProblem.HashMismatch, string.Create(CultureInfo.InvariantCulture,
                        $"It holds {file.Length} bytes; the manifest lists {artifact.Length}: it was changed after the bundle was signed."));
                    continue;
                }

                if (await HashAsync(file, cancellationToken).ConfigureAwait(false) != artifact.Sha256)
                {
                    Find(relative, EvidenceProblem.HashMismatch, "Its bytes are not the ones the manifest lists (SHA-256): it was changed after the bundle was signed.");
                }

                // Journals are read from their files by the journal checks; the other kinds are read into memory up to a limit.
                bool journal = artifact.Kind.EndsWith("-journal", StringComparison.Ordinal);
                if (!journal && file.Length > MaxInMemoryBytes)
                {
                    Find(relative, EvidenceProblem.Malformed, string.Create(CultureInfo.InvariantCulture, $"It is over {MaxInMemoryBytes} bytes, more than a {artifact.Kind} can be."));
                    continue;
                }

                _files[relative] = journal ? [] : await File.ReadAllBytesAsync(file.FullName, cancellationToken).ConfigureAwait(false);
            }

            foreach (string path in EvidenceBundle.Files(folder).Select(p => EvidenceBundle.Relative(folder, p)).Where(p => !listed.Contains(p)))
            {
                Find(path, EvidenceProblem.Unlisted, "The bundle holds it; the manifest does not list it.");
            }
        }

        private static async Task<string> HashAsync(FileInfo file, CancellationToken cancellationToken)
        {
            var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (stream.ConfigureAwait(false))
            {
                return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            }
        }

        private bool IsInside(string path) => Path.GetFullPath(path).StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

        /// <summary>Whether the file, or a folder between it and the bundle folder, is a symbolic link or another reparse point.</summary>
        private bool IsLinked(FileInfo file)
        {
            if (file.LinkTarget is not null || file.Attributes.HasFlag(FileAttributes.ReparsePoint))
            {
                return true;
            }

            for (DirectoryInfo? directory = file.Directory; directory is not null && directory.FullName.Length > folder.Length; directory = directory.Parent)
            {
                if (directory.LinkTarget is not null || directory.Attributes.HasFlag(FileAttributes.ReparsePoint))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>The audit and ledger journals against the unit's checkpoints; every record readable; each ledger entry's audit record.</summary>
        public async Task CheckJournalsAsync(CancellationToken cancellationToken)
        {
            string unitKeyName = $"{_manifest.CustomerId}/{_manifest.UnitId}";
            if (await CheckJournalAsync("audit", unitKeyName, UnitKeys(), cancellationToken).ConfigureAwait(false) is { } audit)
            {
                for (int i = 0; i < audit.Count; i++)
                {
                    AuditEvent? read;
                    string problem;
                    try
                    {
                        read = JsonSerializer.Deserialize<AuditEvent>(audit[i], DocumentJson.Options);
                        problem = "it has no details";
                    }
                    catch (JsonException ex)
                    {
                        read = null;
                        problem = ex.Message;
                    }

                    if (read?.Details is null)
                    {
                        Find("audit.journal", EvidenceProblem.Malformed, string.Create(CultureInfo.InvariantCulture, $"Record {i} is not an audit event: {problem}"));
                        read = new AuditEvent { Kind = 0, At = default }; // keeps the indexes of later records
                    }

                    _audit.Add(read);
                }

                CheckContractRecords();
            }

            if (await CheckJournalAsync("ledger", unitKeyName, UnitKeys(), cancellationToken).ConfigureAwait(false) is { } ledger)
            {
                _ledgerRecords = ledger;
                CheckLedgerLinks();
            }

            if (_files.ContainsKey("statements.journal"))
            {
                try
                {
                    _statementRecords = [.. await AppendOnlyJournal.ReadAllRecordsAsync(Path.Combine(folder, "statements.journal"), cancellationToken).ConfigureAwait(false)];
                }
                catch (JournalException ex)
                {
                    Find("statements.journal", EvidenceProblem.Malformed, ex.Message);
                }
            }
        }

        private async Task<List<byte[]>?> CheckJournalAsync(string log, string keyName, IReadOnlyList<PartyKey> keys, CancellationToken cancellationToken)
        {
            string journal = log + ".journal";
            string checkpoint = log + ".checkpoint";
            if (!_files.ContainsKey(journal) || !_files.TryGetValue(checkpoint, out byte[]? note))
            {
                Find(_files.ContainsKey(journal) ? checkpoint : journal, EvidenceProblem.Missing, $"The bundle needs the {log} journal and its signed checkpoint.");
                return null;
            }

            string text = Encoding.UTF8.GetString(note);
            JournalVerification? best = null;
            foreach (PartyKey key in keys)
            {
                JournalVerification verified = await JournalVerifier.VerifyAsync(Path.Combine(folder, journal), text, keyName, key, cancellationToken).ConfigureAwait(false);
                if (verified.IsValid || best is null || best.Reason == JournalVerificationFailure.BadCheckpoint)
                {
                    best = verified;
                }

                if (verified.IsValid)
                {
                    break;
                }
            }

            if (best is null || best.Reason == JournalVerificationFailure.BadCheckpoint)
            {
                Find(checkpoint, EvidenceProblem.NotSigned, $"The checkpoint is not signed under {keyName} by a unit key of {_manifest.CustomerId}: {best?.Sentence ?? "no unit key is trusted."}");
            }
            else if (!best.IsValid)
            {
                Find(journal, EvidenceProblem.JournalMismatch, best.Sentence);
            }
            else if (!text.StartsWith($"{keyName}/{log}\n", StringComparison.Ordinal))
            {
                Find(checkpoint, EvidenceProblem.Inconsistent, $"The checkpoint's origin is not {keyName}/{log}.");
            }

            // The records are read for the cross-checks even when the checkpoint failed: that finding is made, and the
            // others name what else disagrees rather than repeating it.
            try
            {
                // Only what the checkpoint covers is evidence: records appended after it are not read by the cross-checks.
                IReadOnlyList<byte[]> records = await AppendOnlyJournal.ReadAllRecordsAsync(Path.Combine(folder, journal), cancellationToken).ConfigureAwait(false);
                long covered = keys.Select(k => Checkpoint.TryVerify(text, keyName, k, out Checkpoint? c, out _) ? c.Size : -1).DefaultIfEmpty(-1).Max();
                return [.. covered < 0 ? records : records.Take((int)Math.Min(covered, records.Count))];
            }
            catch (JournalException ex)
            {
                if (best?.Reason != JournalVerificationFailure.DamagedRecord)
                {
                    Find(journal, EvidenceProblem.Malformed, ex.Message);
                }

                return null;
            }
        }

        /// <summary>Each document-accepted record carries the document its hash names.</summary>
        private void CheckContractRecords()
        {
            for (int i = 0; i < _audit.Count; i++)
            {
                AuditEvent e = _audit[i];
                if (e.Kind == AuditEventKind.DocumentAccepted
                    && !(e.Details.TryGetValue("document", out string? json) && json is not null && SignedEnvelope.TryParse(Encoding.UTF8.GetBytes(json), out SignedEnvelope? document, out _)
                         && DocumentJson.Hash(document.Payload.Span) == e.Details.GetValueOrDefault("document-sha256")))
                {
                    Find("audit.journal", EvidenceProblem.Inconsistent, string.Create(CultureInfo.InvariantCulture, $"Record {i} (document-accepted) does not carry the document its hash names."));
                }
            }
        }

        /// <summary>Each ledger entry that names its audit record names a charge-recorded record with its idempotency key.</summary>
        private void CheckLedgerLinks()
        {
            for (int i = 0; i < _ledgerRecords.Count; i++)
            {
                JsonDocument record;
                try
                {
                    record = JsonDocument.Parse(_ledgerRecords[i]);
                }
                catch (JsonException ex)
                {
                    Find("ledger.journal", EvidenceProblem.Malformed, string.Create(CultureInfo.InvariantCulture, $"Record {i} is not JSON: {ex.Message}"));
                    continue;
                }

                using var _ = record;
                if (record.RootElement.ValueKind != JsonValueKind.Object || !record.RootElement.TryGetProperty("charge", out JsonElement charge)
                    || charge.ValueKind != JsonValueKind.Object || !charge.TryGetProperty("auditRecord", out JsonElement link))
                {
                    continue; // an annotation, or an entry recorded without an audit record
                }

                long index = link.ValueKind == JsonValueKind.Number && link.TryGetInt64(out long n) ? n : -1;
                string? key = charge.TryGetProperty("idempotencyKey", out JsonElement k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
                if (index < 0 || index >= _audit.Count || _audit[(int)index].Kind != AuditEventKind.ChargeRecorded
                    || _audit[(int)index].Details.GetValueOrDefault("idempotency-key") != key)
                {
                    Find("ledger.journal", EvidenceProblem.Inconsistent, string.Create(CultureInfo.InvariantCulture,
                        $"Record {i} (charge {key}) names audit record {index}, which is not the charge-recorded record of that charge."));
                }
            }
        }

        private List<PartyKey> UnitKeys() => KeysOf(_manifest.CustomerId, PartyRole.Unit);

        /// <summary>The auditor's keys of a party and role that are valid now (a revoked or expired key vouches for nothing).</summary>
        private List<PartyKey> KeysOf(string party, PartyRole role) =>
            trust.GetKeySet(party, role)?.Keys.Select(k => k.Key).Where(k => trust.CheckKey(k, role, party, out _) == SignatureProblem.None).ToList() ?? [];

        private IEnumerable<(string Path, byte[] Bytes)> FilesOfKind(string kind) =>
            _files.Where(f => EvidenceBundle.KindOf(f.Key) == kind).OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => (f.Key, f.Value));

        private void Find(string artifact, EvidenceProblem reason, string sentence) => Findings.Add(new EvidenceFinding(artifact, reason, sentence));
    }
}
