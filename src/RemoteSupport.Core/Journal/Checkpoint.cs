using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RemoteSupport.Identities;

namespace RemoteSupport.Journal;

/// <summary>
/// A signed tree head in the C2SP tlog-checkpoint form, as a signed note: the origin line, the tree
/// size, the base64 root hash, a blank line, then signature lines
/// <c>— &lt;key name&gt; &lt;base64(key hash || Ed25519 signature)&gt;</c> (docs/formats/journal.md).
/// </summary>
/// <param name="Origin">The log's origin line, unique to this journal (for example <c>fabrikam.example/unit-7/audit</c>).</param>
/// <param name="Size">The number of records the root covers.</param>
/// <param name="Root">The RFC 6962 tree head.</param>
public sealed record Checkpoint(string Origin, long Size, byte[] Root)
{
    private const char EmDash = '\u2014';

    /// <summary>Gets the note body: origin, size and root, each on its own line.</summary>
    public string Body => string.Create(CultureInfo.InvariantCulture, $"{Origin}\n{Size}\n{Convert.ToBase64String(Root)}\n");

    /// <summary>The C2SP key hash of an Ed25519 key: the first 4 bytes of SHA-256(name || "\n" || 0x01 || key).</summary>
    public static byte[] KeyHash(string keyName, PartyKey key)
    {
        ArgumentNullException.ThrowIfNull(keyName);
        ArgumentNullException.ThrowIfNull(key);
        byte[] name = Encoding.UTF8.GetBytes(keyName + "\n");
        byte[] data = [.. name, 0x01, .. key.RawKey];
        return SHA256.HashData(data)[..4];
    }

    /// <summary>Signs the checkpoint and returns the signed note.</summary>
    public string Sign(string keyName, PartyIdentity signer)
    {
        ValidateKeyName(keyName);
        if (string.IsNullOrEmpty(Origin) || Origin.Contains('\n', StringComparison.Ordinal))
        {
            Error.Argument(nameof(Origin), "A checkpoint's origin is one non-empty line: a line break would let it carry another size and root.");
        }

        ArgumentNullException.ThrowIfNull(signer);
        string body = Body;
        byte[] signature = signer.Sign(Encoding.UTF8.GetBytes(body));
        byte[] line = [.. KeyHash(keyName, signer.PublicKey), .. signature];
        return $"{body}\n{EmDash} {keyName} {Convert.ToBase64String(line)}\n";
    }

    /// <summary>Parses a signed note and verifies a signature by <paramref name="key"/> under <paramref name="keyName"/>.</summary>
    /// <returns><see langword="true"/> with the checkpoint; otherwise a sentence saying what is wrong.</returns>
    public static bool TryVerify(string note, string keyName, PartyKey key, [NotNullWhen(true)] out Checkpoint? checkpoint, out string error)
    {
        ArgumentNullException.ThrowIfNull(note);
        ArgumentNullException.ThrowIfNull(key);
        checkpoint = null;
        int split = note.IndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0 || note.Length > 64 * 1024)
        {
            error = "The checkpoint is not a signed note (no blank line before the signatures).";
            return false;
        }

        string body = note[..(split + 1)];
        string[] lines = body.Split('\n');
        if (lines.Length < 4 || !long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size))
        {
            error = "The checkpoint body needs an origin, a decimal tree size and a root hash.";
            return false;
        }

        byte[] root;
        try
        {
            root = Convert.FromBase64String(lines[2]);
        }
        catch (FormatException)
        {
            error = "The checkpoint's root hash is not base64.";
            return false;
        }

        if (root.Length != MerkleTree.HashLength)
        {
            error = "The checkpoint's root hash is not 32 bytes.";
            return false;
        }

        byte[] expectedHash = KeyHash(keyName, key);
        byte[] signed = Encoding.UTF8.GetBytes(body);
        foreach (string line in note[(split + 2)..].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string prefix = $"{EmDash} {keyName} ";
            if (!line.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            byte[] value;
            try
            {
                value = Convert.FromBase64String(line[prefix.Length..]);
            }
            catch (FormatException)
            {
                continue;
            }

            if (value.Length == 4 + 64 && value.AsSpan(0, 4).SequenceEqual(expectedHash) && key.Verify(signed, value.AsSpan(4)))
            {
                checkpoint = new Checkpoint(lines[0], size, root);
                error = string.Empty;
                return true;
            }
        }

        error = $"No valid signature by '{keyName}' ({key.KeyId}) on the checkpoint.";
        return false;
    }

    /// <summary>Parses a signed note and verifies a signature by <paramref name="key"/> under any key name the note's signature lines carry.</summary>
    /// <returns><see langword="true"/> with the checkpoint and the key name; otherwise a sentence saying what is wrong.</returns>
    internal static bool TryVerifyBy(string note, PartyKey key, [NotNullWhen(true)] out Checkpoint? checkpoint, out string keyName, out string error)
    {
        ArgumentNullException.ThrowIfNull(note);
        checkpoint = null;
        keyName = string.Empty;
        error = "The checkpoint is not a signed note (no blank line before the signatures).";
        int split = note.IndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0 || note.Length > 64 * 1024)
        {
            return false;
        }

        error = $"No valid signature by {key.KeyId} on the checkpoint.";
        foreach (string line in note[(split + 2)..].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ');
            if (parts.Length != 3 || parts[0] != EmDash.ToString())
            {
                continue;
            }

            if (TryVerify(note, parts[1], key, out checkpoint, out string problem))
            {
                keyName = parts[1];
                return true;
            }

            error = problem;
        }

        return false;
    }

    private static void ValidateKeyName(string keyName)
    {
        if (string.IsNullOrEmpty(keyName) || keyName.Any(c => char.IsWhiteSpace(c) || c == '+'))
        {
            Error.Argument(nameof(keyName), "A note key name is non-empty, without spaces or '+'.");
        }
    }
}

/// <summary>Why an exported journal did not verify.</summary>
public enum JournalVerificationFailure
{
    /// <summary>The journal matches the checkpoint.</summary>
    None = 0,

    /// <summary>The checkpoint is malformed or not signed by the expected key.</summary>
    BadCheckpoint = 1,

    /// <summary>A record of the export is damaged (the sentence names it and its offset).</summary>
    DamagedRecord = 2,

    /// <summary>The export holds fewer records than the checkpoint covers.</summary>
    TooFewRecords = 3,

    /// <summary>The records do not hash to the checkpoint's root: the journal was altered.</summary>
    RootMismatch = 4,
}

/// <summary>The outcome of verifying an exported journal against a signed checkpoint.</summary>
/// <param name="Reason">Why it did not verify, or <see cref="JournalVerificationFailure.None"/>.</param>
/// <param name="RecordCount">How many records the export holds.</param>
/// <param name="Sentence">What was verified, or what is wrong (naming the record where one is damaged).</param>
public sealed record JournalVerification(JournalVerificationFailure Reason, long RecordCount, string Sentence)
{
    /// <summary>Gets a value indicating whether the journal matches the checkpoint.</summary>
    public bool IsValid => Reason == JournalVerificationFailure.None;
}

/// <summary>Verifies an exported journal offline: every record's framing and checks, then the tree head against a signed checkpoint.</summary>
public static class JournalVerifier
{
    /// <summary>Verifies the export at <paramref name="exportPath"/> against <paramref name="signedCheckpoint"/>.</summary>
    public static async Task<JournalVerification> VerifyAsync(
        string exportPath, string signedCheckpoint, string keyName, PartyKey key, CancellationToken cancellationToken = default)
    {
        if (!Checkpoint.TryVerify(signedCheckpoint, keyName, key, out Checkpoint? checkpoint, out string error))
        {
            return new JournalVerification(JournalVerificationFailure.BadCheckpoint, 0, error);
        }

        IReadOnlyList<byte[]> records;
        try
        {
            records = await AppendOnlyJournal.ReadAllRecordsAsync(exportPath, cancellationToken).ConfigureAwait(false);
        }
        catch (JournalException ex)
        {
            return new JournalVerification(JournalVerificationFailure.DamagedRecord, 0, ex.Message);
        }

        if (records.Count < checkpoint.Size)
        {
            return new JournalVerification(JournalVerificationFailure.TooFewRecords, records.Count, string.Create(CultureInfo.InvariantCulture,
                $"The export holds {records.Count} records; the checkpoint covers {checkpoint.Size}."));
        }

        List<byte[]> leaves = records.Select(r => MerkleTree.LeafHash(r)).ToList();
        byte[] root = MerkleTree.Root(leaves, checkpoint.Size);
        return root.AsSpan().SequenceEqual(checkpoint.Root)
            ? new JournalVerification(JournalVerificationFailure.None, records.Count, string.Create(CultureInfo.InvariantCulture,
                $"The first {checkpoint.Size} records match the checkpoint of {checkpoint.Origin}."))
            : new JournalVerification(JournalVerificationFailure.RootMismatch, records.Count, string.Create(CultureInfo.InvariantCulture,
                $"The first {checkpoint.Size} records do not match the checkpoint's root: the journal was altered."));
    }
}
