using System.Globalization;
using System.Text;
using System.Text.Json;
using RemoteSupport.Audit;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Trust;

namespace RemoteSupport.Evidence;

/// <summary>The checks of the trust snapshot, the statements, the receipts and the approvals.</summary>
public static partial class EvidenceVerifier
{
    private sealed partial class Run
    {
        /// <summary>
        /// The trust snapshot agrees with the journal's contract records (each revocation and rotation is journaled) and with
        /// the auditor's trust (a key the auditor does not hold was brought in by a journaled rotation).
        /// </summary>
        public void CheckTrust()
        {
            const string Artifact = "trust.json";
            if (!_files.TryGetValue(Artifact, out byte[]? bytes))
            {
                Find(Artifact, EvidenceProblem.Missing, "The bundle has no trust snapshot.");
                return;
            }

            TrustSnapshot.Snapshot snapshot;
            try
            {
                snapshot = TrustSnapshot.Parse(bytes);
            }
            catch (JsonException ex)
            {
                Find(Artifact, EvidenceProblem.Malformed, "The trust snapshot is not valid: " + ex.Message);
                return;
            }

            if (snapshot.SchemaVersion != TrustSnapshot.SchemaVersion || snapshot.KeySets is null || snapshot.Retired is null
                || snapshot.KeySets.Any(s => s?.Keys is null || s.PartyId is null || s.Keys.Any(k => k?.Key is null)) || snapshot.Retired.Any(k => k?.Key is null))
            {
                Find(Artifact, EvidenceProblem.Malformed, string.Create(CultureInfo.InvariantCulture,
                    $"The trust snapshot is not one of schema version {TrustSnapshot.SchemaVersion} with key sets, keys and retired keys."));
                return;
            }

            HashSet<string> revokedInJournal = _audit.Where(e => e.Kind == AuditEventKind.KeyRevoked).Select(e => e.Details.GetValueOrDefault("key") ?? string.Empty).ToHashSet(StringComparer.Ordinal);
            var rotations = _audit.Where(e => e.Kind == AuditEventKind.DocumentAccepted && e.Details.GetValueOrDefault("payload-type") == KeyRotation.DocumentType.PayloadType)
                .Select(e => SignedEnvelope.TryParse(Encoding.UTF8.GetBytes(e.Details.GetValueOrDefault("document") ?? string.Empty), out SignedEnvelope? d, out _) ? d : null)
                .OfType<SignedEnvelope>()
                .Select(d => KeyRotation.TryRead(d.Payload.Span, out string party, out PartyRole role, out long sequence, out int threshold, out List<PartyKey> keys, out _)
                    ? (party, role, sequence, threshold, keys) : default)
                .Where(r => r.party is not null)
                .ToList();
            foreach (TrustSnapshot.SnapshotKey key in snapshot.KeySets.SelectMany(s => s.Keys).Concat(snapshot.Retired))
            {
                if (!PartyKey.TryParse(key.Key, out PartyKey? parsed) || parsed.KeyId != key.KeyId)
                {
                    Find(Artifact, EvidenceProblem.Malformed, $"Key {key.KeyId} of {key.PartyId}/{key.Role.ToText()} is not a public key with that id.");
                }
                else if (key.RevokedAt is not null && !revokedInJournal.Contains(key.Key))
                {
                    Find(Artifact, EvidenceProblem.Inconsistent, $"Key {key.KeyId} of {key.PartyId}/{key.Role.ToText()} is revoked, and the audit journal has no key-revoked record of it.");
                }
            }

            foreach (string revoked in revokedInJournal.Where(k => k.Length > 0 && !snapshot.KeySets.SelectMany(s => s.Keys).Concat(snapshot.Retired).Any(s => s.Key == k && s.RevokedAt is not null)))
            {
                Find(Artifact, EvidenceProblem.Inconsistent, $"The audit journal revokes key {revoked}; the trust snapshot does not show it revoked.");
            }

            foreach (TrustSnapshot.SnapshotKeySet set in snapshot.KeySets)
            {
                HashSet<string> keys = set.Keys.Select(k => k.Key).ToHashSet(StringComparer.Ordinal);
                if (set.Sequence > 1)
                {
                    // A rotated set is exactly what the journaled rotation to its sequence made it.
                    (string party, PartyRole role, long sequence, int threshold, List<PartyKey> keys) rotation =
                        rotations.FirstOrDefault(r => r.party == set.PartyId && r.role == set.Role && r.sequence == set.Sequence);
                    if (rotation.party is null)
                    {
                        Find(Artifact, EvidenceProblem.Inconsistent, string.Create(CultureInfo.InvariantCulture,
                            $"{set.PartyId}/{set.Role.ToText()} is at sequence {set.Sequence}, and the audit journal holds no key rotation to it."));
                    }
                    else if (rotation.threshold != set.Threshold || !keys.SetEquals(rotation.keys.Select(k => k.ToString())))
                    {
                        Find(Artifact, EvidenceProblem.Inconsistent, string.Create(CultureInfo.InvariantCulture,
                            $"{set.PartyId}/{set.Role.ToText()} at sequence {set.Sequence} does not hold the keys and threshold its journaled rotation gave it."));
                    }
                }
                else if (trust.GetKeySet(set.PartyId, set.Role) is { } known)
                {
                    // A first key set is the customer's configuration: every key in it is one the auditor holds too.
                    foreach (TrustSnapshot.SnapshotKey key in set.Keys.Where(k => !known.Keys.Any(t => t.Key.ToString() == k.Key)))
                    {
                        Find(Artifact, EvidenceProblem.Inconsistent,
                            $"The unit trusts key {key.KeyId} for {set.PartyId}/{set.Role.ToText()}; the auditor's trust does not hold it, and no journaled rotation brought it in.");
                    }
                }
            }
        }

        /// <summary>Each statement: the vendor's signature, its CSV, its ledger checkpoint against the bundle's ledger, its place in the statements journal.</summary>
        public void CheckStatements()
        {
            IReadOnlyList<PartyKey> vendorKeys = KeysOf(_manifest.VendorId, PartyRole.Vendor);
            HashSet<string>? journaled = StatementJournal(vendorKeys);
            foreach ((string path, byte[] bytes) in FilesOfKind("statement"))
            {
                if (Read(path, bytes, MonthlyStatement.DocumentType, new SignatureRequirement(_manifest.VendorId, PartyRole.Vendor), "the vendor") is not { } envelope)
                {
                    continue;
                }

                MonthlyStatement statement;
                try
                {
                    statement = MonthlyStatement.FromEnvelope(envelope);
                }
                catch (EnvelopeFormatException ex)
                {
                    Find(path, EvidenceProblem.Malformed, ex.Message);
                    continue;
                }

                if (statement.CustomerId != _manifest.CustomerId || statement.PeriodStart < _manifest.From || statement.PeriodEnd > _manifest.Until)
                {
                    Find(path, EvidenceProblem.Inconsistent, $"Statement {statement.Number} is {statement.CustomerId}'s for {statement.Month}: not the bundle's customer, or outside its period.");
                }

                CheckCsv(path, statement);
                CheckLedgerCheckpoint(path, statement, vendorKeys);
                if (journaled is not null && !journaled.Contains(DocumentJson.Hash(envelope.Payload.Span)))
                {
                    Find(path, EvidenceProblem.NotInJournal, $"Statement {statement.Number} is not a record of the issued-statements journal.");
                }
            }
        }

        /// <summary>Session and install receipts signed by the unit and recorded in its audit journal; approvals signed by the customer's approvers and used by a decision.</summary>
        public void CheckReceiptsAndApprovals()
        {
            var unit = new SignatureRequirement(_manifest.CustomerId, PartyRole.Unit, 1);
            HashSet<string> closed = _audit.Where(e => e.Kind == AuditEventKind.SessionClosed).Select(e => e.Details.GetValueOrDefault("receipt-sha256") ?? string.Empty).ToHashSet(StringComparer.Ordinal);
            foreach ((string path, byte[] bytes) in FilesOfKind("session-receipt"))
            {
                if (Read(path, bytes, SessionReceipt.DocumentType, unit, "the unit") is { } receipt && !closed.Contains(DocumentJson.Hash(receipt.Payload.Span)))
                {
                    Find(path, EvidenceProblem.NotInAudit, "No session-closed record of the audit journal names this receipt.");
                }
            }

            HashSet<string> installs = _audit.Where(e => e.Kind is AuditEventKind.FixInstalled or AuditEventKind.FixRolledBack or AuditEventKind.FixRefused)
                .Select(e => SignedEnvelope.TryParse(Encoding.UTF8.GetBytes(e.Details.GetValueOrDefault("receipt") ?? string.Empty), out SignedEnvelope? r, out _) ? DocumentJson.Hash(r.Payload.Span) : string.Empty)
                .ToHashSet(StringComparer.Ordinal);
            foreach ((string path, byte[] bytes) in FilesOfKind("install-receipt"))
            {
                if (Read(path, bytes, InstallReceipt.DocumentType, unit, "the unit") is { } receipt && !installs.Contains(DocumentJson.Hash(receipt.Payload.Span)))
                {
                    Find(path, EvidenceProblem.NotInAudit, "No fix record of the audit journal carries this install receipt.");
                }
            }

            HashSet<string> used = _audit.Where(e => e.Kind == AuditEventKind.ConsentDecided)
                .SelectMany(e => (e.Details.GetValueOrDefault("approvals") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);
            foreach ((string path, byte[] bytes) in FilesOfKind("approval"))
            {
                if (Read(path, bytes, Approval.DocumentType, new SignatureRequirement(_manifest.CustomerId, PartyRole.Approver, 1), "an approver of the customer") is not { } signed)
                {
                    continue;
                }

                string? id = ApprovalId(signed);
                if (id is null)
                {
                    Find(path, EvidenceProblem.Malformed, "The approval names no approvalId.");
                }
                else if (!used.Contains(id))
                {
                    Find(path, EvidenceProblem.NotInAudit, $"No consent decision of the audit journal used approval {id}.");
                }
            }
        }

        private static string? ApprovalId(SignedEnvelope signed)
        {
            try
            {
                using JsonDocument payload = JsonDocument.Parse(signed.Payload);
                return payload.RootElement.TryGetProperty("approvalId", out JsonElement id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        /// <summary>Reads a signed document and checks its signature; a finding and null when either fails.</summary>
        private SignedEnvelope? Read(string path, byte[] bytes, DocumentType type, SignatureRequirement signer, string whose)
        {
            if (!SignedEnvelope.TryParse(bytes, out SignedEnvelope? envelope, out string? error))
            {
                Find(path, EvidenceProblem.Malformed, "Not an envelope: " + error);
                return null;
            }

            VerificationResult verified = trust.Verify(envelope, new SignaturePolicy(type, signer));
            if (!verified.IsValid)
            {
                Find(path, verified.Reason == VerificationFailure.PayloadTypeMismatch ? EvidenceProblem.Malformed : EvidenceProblem.NotSigned,
                    $"Not a {type.Kind} signed by {whose}: {verified.Sentence}");
                return null;
            }

            return envelope;
        }

        /// <summary>The CSV beside a statement hashes to its <c>linesSha256</c> and holds <c>lineCount</c> records after the header.</summary>
        private void CheckCsv(string path, MonthlyStatement statement)
        {
            string csvPath = path[..^".json".Length] + ".csv";
            if (!_files.TryGetValue(csvPath, out byte[]? csv))
            {
                Find(csvPath, EvidenceProblem.Missing, $"Statement {statement.Number} has no CSV beside it.");
                return;
            }

            long records = CountRecords(csv) - 1;
            if (Sha256Hex.Of(csv) != statement.LinesSha256 || records != statement.LineCount)
            {
                Find(csvPath, EvidenceProblem.Inconsistent, string.Create(CultureInfo.InvariantCulture,
                    $"The CSV holds {records} lines with SHA-256 {Sha256Hex.Of(csv)}; statement {statement.Number} says {statement.LineCount} lines with {statement.LinesSha256}."));
            }
        }

        /// <summary>Counts CSV records by the rules of ledger.md: each ends with CRLF outside a quoted field.</summary>
        private static long CountRecords(byte[] csv)
        {
            long records = 0;
            bool quoted = false;
            for (int i = 0; i < csv.Length; i++)
            {
                if (csv[i] == (byte)'"')
                {
                    quoted = !quoted; // a doubled quote toggles twice
                }
                else if (!quoted && csv[i] == (byte)'\r' && i + 1 < csv.Length && csv[i + 1] == (byte)'\n')
                {
                    records++;
                    i++;
                }
            }

            return records;
        }

        /// <summary>The statement's embedded ledger checkpoint is the vendor's, covers <c>ledgerSize</c> records, and its root is the bundle ledger's first records.</summary>
        private void CheckLedgerCheckpoint(string path, MonthlyStatement statement, IReadOnlyList<PartyKey> vendorKeys)
        {
            if (SignedByOneOf(statement.LedgerCheckpoint, vendorKeys) is not { } checkpoint)
            {
                Find(path, EvidenceProblem.NotSigned, $"The ledger checkpoint of statement {statement.Number} is not signed by a key of {_manifest.VendorId}.");
                return;
            }

            if (checkpoint.Size != statement.LedgerSize || checkpoint.Size > _ledgerRecords.Count
                || !MerkleTree.Root([.. _ledgerRecords.Select(r => MerkleTree.LeafHash(r))], checkpoint.Size).AsSpan().SequenceEqual(checkpoint.Root))
            {
                Find(path, EvidenceProblem.JournalMismatch, string.Create(CultureInfo.InvariantCulture,
                    $"Statement {statement.Number} was issued over a ledger of {checkpoint.Size} records whose root is not that of the bundle's ledger ({_ledgerRecords.Count} records)."));
            }
        }

        /// <summary>The checkpoint a signed note carries when one of <paramref name="keys"/> signed it (under any key name), or null.</summary>
        private static Checkpoint? SignedByOneOf(string note, IReadOnlyList<PartyKey> keys)
        {
            foreach (PartyKey key in keys)
            {
                if (Checkpoint.TryVerifyBy(note, key, out Checkpoint? checkpoint, out _, out _))
                {
                    return checkpoint;
                }
            }

            return null;
        }

        /// <summary>The issued-statements journal against the vendor's checkpoint; numbers per customer from 1 without a gap. The payload hashes of its statements, or null without one.</summary>
        private HashSet<string>? StatementJournal(IReadOnlyList<PartyKey> vendorKeys)
        {
            if (!_files.ContainsKey("statements.journal"))
            {
                return null;
            }

            if (!_files.TryGetValue("statements.checkpoint", out byte[]? note))
            {
                Find("statements.checkpoint", EvidenceProblem.Missing, "The issued-statements journal has no signed checkpoint beside it.");
                return null;
            }

            if (SignedByOneOf(Encoding.UTF8.GetString(note), vendorKeys) is not { } checkpoint)
            {
                Find("statements.checkpoint", EvidenceProblem.NotSigned, $"The checkpoint is not signed by a key of {_manifest.VendorId}.");
                return null;
            }

            if (_statementRecords is not { } records)
            {
                return null; // unreadable: found when it was read
            }

            if (checkpoint.Size > records.Count || !MerkleTree.Root([.. records.Select(r => MerkleTree.LeafHash(r))], checkpoint.Size).AsSpan().SequenceEqual(checkpoint.Root))
            {
                Find("statements.journal", EvidenceProblem.JournalMismatch, "The issued-statements journal does not match its checkpoint: a statement was removed, replaced or slipped in.");
                return null;
            }

            var hashes = new HashSet<string>(StringComparer.Ordinal);
            var next = new Dictionary<string, long>(StringComparer.Ordinal);
            for (int i = 0; i < checkpoint.Size; i++)
            {
                SignedEnvelope envelope;
                MonthlyStatement statement;
                try
                {
                    envelope = SignedEnvelope.Parse(records[i]);
                    statement = MonthlyStatement.FromEnvelope(envelope);
                }
                catch (EnvelopeFormatException ex)
                {
                    Find("statements.journal", EvidenceProblem.Malformed, string.Create(CultureInfo.InvariantCulture, $"Record {i} is not a statement: {ex.Message}"));
                    continue;
                }

                long expected = next.GetValueOrDefault(statement.CustomerId, 1);
                if (statement.Number != expected)
                {
                    Find("statements.journal", EvidenceProblem.Inconsistent, string.Create(CultureInfo.InvariantCulture,
                        $"{statement.CustomerId}'s statement numbers skip: {statement.Number} follows {expected - 1}."));
                }

                next[statement.CustomerId] = statement.Number + 1;
                hashes.Add(DocumentJson.Hash(envelope.Payload.Span));
            }

            return hashes;
        }
    }
}
