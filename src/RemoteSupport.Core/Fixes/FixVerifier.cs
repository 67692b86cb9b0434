using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using NuGet.Versioning;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;

namespace RemoteSupport.Fixes;

/// <summary>Why a fix package was refused.</summary>
public enum FixRefusal
{
    /// <summary>Not refused.</summary>
    None = 0,

    /// <summary>The file is not a fix package, or its manifest is malformed.</summary>
    Malformed,

    /// <summary>Too few release keys of the current root signed the manifest.</summary>
    SignaturesInsufficient,

    /// <summary>The package or the root has expired.</summary>
    Expired,

    /// <summary>The version is not above the installed one, or the installed version is outside the range.</summary>
    Rollback,

    /// <summary>The package is for another product, unit, customer or contract.</summary>
    WrongTarget,

    /// <summary>An entry path escapes the install root, or is listed twice.</summary>
    BadEntryPath,

    /// <summary>A payload chunk or file does not match its hash.</summary>
    HashMismatch,

    /// <summary>The payload is shorter than declared.</summary>
    Truncated,

    /// <summary>Data follows the last declared entry.</summary>
    TrailingData,
}

/// <summary>The unit a package is verified for.</summary>
/// <param name="UnitId">The unit.</param>
/// <param name="CustomerId">The unit's customer.</param>
/// <param name="ContractId">The unit's support contract, if any.</param>
/// <param name="Product">The product being updated on the unit.</param>
/// <param name="InstalledVersion">The installed version of that product (SemVer), or null when it is not installed.</param>
public sealed record FixContext(string UnitId, string CustomerId, string? ContractId, string Product, string? InstalledVersion);

/// <summary>The outcome of verifying a fix package.</summary>
public sealed record FixVerification
{
    /// <summary>Gets a value indicating whether the package is verified and staged.</summary>
    public bool IsValid => Reason == FixRefusal.None;

    /// <summary>Gets why it was refused.</summary>
    public required FixRefusal Reason { get; init; }

    /// <summary>Gets a sentence saying what was verified or why it was refused.</summary>
    public required string Sentence { get; init; }

    /// <summary>Gets the manifest, once it could be read.</summary>
    public FixManifest? Manifest { get; init; }

    /// <summary>
    /// Gets the package hash: the SHA-256 of the manifest's payload bytes (the document hash), which commit
    /// to every payload byte through the chunk hashes; what an approval binds.
    /// </summary>
    public string? PackageHash { get; init; }
}

/// <summary>
/// Verifies a fix package on the unit before anything is written where it would run: signature
/// threshold against the current vendor root, expiry, rollback, target, entry paths, and every byte
/// of the payload against its chunk and file hashes as it streams into a staging folder. Reads stop at
/// the declared lengths; memory stays constant (one chunk) whatever the package size.
/// </summary>
public static class FixVerifier
{
    /// <summary>The largest manifest accepted, in bytes.</summary>
    public const int MaxManifestBytes = SignedEnvelope.MaxEnvelopeBytes;

    /// <summary>
    /// Verifies <paramref name="package"/> and stages its files under <paramref name="stagingFolder"/> (which it
    /// creates; never the install root). With a null staging folder it only verifies.
    /// </summary>
    public static async Task<FixVerification> VerifyAsync(
        Stream package, FixTrust trust, FixContext context, string? stagingFolder, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(trust);
        ArgumentNullException.ThrowIfNull(context);
        DateTimeOffset now = (timeProvider ?? TimeProvider.System).GetUtcNow();

        byte[] header = new byte[FixPackage.Magic.Length + 4];
        if (await package.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) < header.Length
            || !header.AsSpan(0, FixPackage.Magic.Length).SequenceEqual(FixPackage.Magic))
        {
            return Refuse(FixRefusal.Malformed, "The file is not a version 1 fix package.");
        }

        uint manifestLength = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(FixPackage.Magic.Length));
        if (manifestLength == 0 || manifestLength > MaxManifestBytes)
        {
            return Refuse(FixRefusal.Malformed, $"The manifest length {manifestLength} is outside [1, {MaxManifestBytes}].");
        }

        byte[] manifestBytes = new byte[manifestLength];
        if (await package.ReadAtLeastAsync(manifestBytes, manifestBytes.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) < manifestBytes.Length)
        {
            return Refuse(FixRefusal.Truncated, "The package ends inside its manifest.");
        }

        SignedEnvelope envelope;
        try
        {
            envelope = SignedEnvelope.Parse(manifestBytes);
        }
        catch (EnvelopeFormatException ex)
        {
            return Refuse(FixRefusal.Malformed, "The manifest's envelope is malformed: " + ex.Message);
        }

        // The package hash is the document hash of the manifest, as of every document: SHA-256 of the
        // payload bytes, which re-serialising the envelope (signatures, whitespace) cannot change.
        string packageHash = DocumentJson.Hash(envelope.Payload.Span);

        // The signatures first: a payload nobody trusted signed is never parsed.
        FixVerification? unsigned = CheckSignatures(envelope, trust.Root, now);
        if (unsigned is not null)
        {
            return unsigned;
        }

        FixManifest manifest;
        try
        {
            manifest = FixManifest.FromEnvelope(envelope);
        }
        catch (EnvelopeFormatException ex)
        {
            return Refuse(FixRefusal.Malformed, "The manifest is malformed: " + ex.Message);
        }

        FixVerification? refused = CheckManifest(manifest, context, now);
        if (refused is not null)
        {
            return refused with { Manifest = manifest };
        }

        if (stagingFolder is not null)
        {
            Directory.CreateDirectory(stagingFolder);
        }

        // The chunk hashes are signed in the manifest: every chunk matching them means every byte is
        // the one the release keys signed. One SHA-256 pass over the payload, one chunk in memory.
        byte[] chunk = new byte[manifest.ChunkSize];
        foreach (FixFile file in manifest.Files.Where(f => f.Action != FixFileAction.Delete))
        {
            Stream output = Stream.Null;
            if (stagingFolder is not null)
            {
                string staged = Path.Combine(stagingFolder, file.Path.Replace('/', Path.DirectorySeparatorChar));
                Directory.CreateDirectory(Path.GetDirectoryName(staged)!);
                output = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            }

            using IncrementalHash? fileHash = stagingFolder is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (output.ConfigureAwait(false))
            {
                long remaining = file.Length;
                for (int index = 0; remaining > 0; index++)
                {
                    int want = (int)Math.Min(remaining, manifest.ChunkSize);
                    int read = await package.ReadAtLeastAsync(chunk.AsMemory(0, want), want, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    if (read < want)
                    {
                        return Refuse(FixRefusal.Truncated, $"The payload of {file.Path} ends after {file.Length - remaining + read} of {file.Length} bytes.") with { Manifest = manifest };
                    }

                    if (index >= file.ChunkHashes.Count || !ChunkMatches(chunk.AsSpan(0, want), file.ChunkHashes[index]))
                    {
                        return Refuse(FixRefusal.HashMismatch, string.Create(CultureInfo.InvariantCulture, $"Chunk {index} of {file.Path} does not match its hash.")) with { Manifest = manifest };
                    }

                    fileHash?.AppendData(chunk, 0, want);
                    await output.WriteAsync(chunk.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                    remaining -= want;
                }

                // When staging for an install, the whole-file hash (used by receipts and rollback) must hold too.
                if (fileHash is not null && Sha256Hex.Finish(fileHash) != file.Sha256)
                {
                    return Refuse(FixRefusal.HashMismatch, $"{file.Path} does not match its SHA-256.") with { Manifest = manifest };
                }

                if (output is FileStream fileStream)
                {
                    fileStream.Flush(flushToDisk: true);
                }
            }
        }

        if (await package.ReadAsync(chunk.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) != 0)
        {
            return Refuse(FixRefusal.TrailingData, "Data follows the last declared entry.") with { Manifest = manifest };
        }

        return new FixVerification
        {
            Reason = FixRefusal.None,
            Sentence = $"{manifest.PackageId} {manifest.Version} verified: {manifest.Files.Count} entries{(stagingFolder is null ? string.Empty : " staged")}.",
            Manifest = manifest,
            PackageHash = packageHash,
        };
    }

    /// <summary>The root in force, and the threshold of its release keys over the manifest's envelope; each signature that does not count is named.</summary>
    private static FixVerification? CheckSignatures(SignedEnvelope envelope, VendorRoot root, DateTimeOffset now)
    {
        if (root.Expires <= now)
        {
            return Refuse(FixRefusal.Expired, $"The vendor root (version {root.Version}) expired at {root.Expires:O}.");
        }

        (int signers, IReadOnlyList<string> unlisted, IReadOnlyList<string> bad) = root.CheckSigners(envelope);
        if (signers >= root.Threshold)
        {
            return null;
        }

        var sentence = new System.Text.StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"The manifest is signed by {signers} release key(s) of the current root (version {root.Version}); {root.Threshold} are needed."));
        if (bad.Count > 0)
        {
            sentence.Append(" Bad signature (the manifest was altered, or the signature forged) by listed key(s): ").AppendJoin(", ", bad).Append('.');
        }

        if (unlisted.Count > 0)
        {
            sentence.Append(" Signed by key(s) the root does not list: ").AppendJoin(", ", unlisted).Append('.');
        }

        return Refuse(FixRefusal.SignaturesInsufficient, sentence.ToString());
    }

    private static FixVerification? CheckManifest(FixManifest manifest, FixContext context, DateTimeOffset now)
    {
        if (manifest.ExpiresAt <= now)
        {
            return Refuse(FixRefusal.Expired, $"The package expired at {manifest.ExpiresAt:O}.");
        }

        FixTarget target = manifest.AppliesTo;
        if (target.Product != manifest.Product || manifest.Product != context.Product || (target.CustomerId is not null && target.CustomerId != context.CustomerId)
            || (target.ContractId is not null && target.ContractId != context.ContractId)
            || !(target.Units.Contains("*") || target.Units.Contains(context.UnitId)))
        {
            return Refuse(FixRefusal.WrongTarget, $"{manifest.PackageId} targets {target.Product} for other units, customers or contracts than {context.UnitId} of {context.CustomerId}.");
        }

        if (!SemanticVersion.TryParse(manifest.Version, out SemanticVersion? version) || !SemanticVersion.TryParse(target.MinVersion, out SemanticVersion? min)
            || (target.MaxVersion is not null && !SemanticVersion.TryParse(target.MaxVersion, out _)))
        {
            return Refuse(FixRefusal.Malformed, "A version in the manifest is not SemVer 2.0.");
        }

        if (context.InstalledVersion is not null)
        {
            SemanticVersion installed = SemanticVersion.Parse(context.InstalledVersion);
            if (version <= installed)
            {
                return Refuse(FixRefusal.Rollback, $"{manifest.Version} is not above the installed {context.InstalledVersion}.");
            }

            if (installed < min || (target.MaxVersion is not null && installed >= SemanticVersion.Parse(target.MaxVersion)))
            {
                return Refuse(FixRefusal.WrongTarget, $"The installed {context.InstalledVersion} is outside [{target.MinVersion}, {target.MaxVersion ?? "∞"}).");
            }
        }

        // Validated before any arithmetic uses them: a chunk size of 0 or a length of long.MaxValue is a refusal, not a crash.
        if (manifest.ChunkSize is < 4096 or > 16 * 1024 * 1024)
        {
            return Refuse(FixRefusal.Malformed, "The chunk size is outside [4 KiB, 16 MiB].");
        }

        if (manifest.Files is null || manifest.Files.Any(f => f is null || f.Path is null || f.ChunkHashes is null || f.Sha256 is null))
        {
            return Refuse(FixRefusal.Malformed, "The manifest lists an entry without its path, hashes or chunk hashes.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (FixFile file in manifest.Files)
        {
            if (!DataPath.TryCanonicalize(file.Path, out string canonical, out string error) || canonical != file.Path)
            {
                return Refuse(FixRefusal.BadEntryPath, $"Entry '{file.Path}' is refused: {(error.Length > 0 ? error : "not canonical")}");
            }

            if (!seen.Add(canonical.ToUpperInvariant()))
            {
                return Refuse(FixRefusal.BadEntryPath, $"Entry '{file.Path}' is listed twice.");
            }

            if (file.Length < 0)
            {
                return Refuse(FixRefusal.Malformed, string.Create(CultureInfo.InvariantCulture, $"Entry '{file.Path}' has a negative length ({file.Length})."));
            }

            // Chunks without overflow: Length / ChunkSize, plus one for a partial chunk.
            long chunks = file.Action == FixFileAction.Delete ? 0 : (file.Length / manifest.ChunkSize) + (file.Length % manifest.ChunkSize == 0 ? 0 : 1);
            if ((file.Action == FixFileAction.Delete && file.Length != 0) || file.ChunkHashes.Count != chunks)
            {
                return Refuse(FixRefusal.Malformed, string.Create(CultureInfo.InvariantCulture,
                    $"Entry '{file.Path}' has inconsistent length and chunk hashes ({file.Length} bytes in chunks of {manifest.ChunkSize} need {chunks} hashes; {file.ChunkHashes.Count} given)."));
            }
        }

        return null;
    }

    private static bool ChunkMatches(ReadOnlySpan<byte> data, string expectedHex)
    {
        Span<byte> digest = stackalloc byte[32];
        Span<byte> expected = stackalloc byte[32];
        SHA256.HashData(data, digest);
        return Convert.FromHexString(expectedHex, expected, out _, out int decoded) == System.Buffers.OperationStatus.Done
            && decoded == 32 && digest.SequenceEqual(expected);
    }

    private static FixVerification Refuse(FixRefusal refusal, string message) => new() { Reason = refusal, Sentence = message };
}
