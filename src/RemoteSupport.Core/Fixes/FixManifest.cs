using RemoteSupport.Documents;

namespace RemoteSupport.Fixes;

/// <summary>What a fix does to a file.</summary>
public enum FixFileAction
{
    /// <summary>Adds a file that must not exist.</summary>
    Add = 1,

    /// <summary>Replaces a file.</summary>
    Replace = 2,

    /// <summary>Deletes a file (no payload).</summary>
    Delete = 3,
}

/// <summary>One file of a fix: path under the install root, action, length, SHA-256 and per-chunk SHA-256.</summary>
/// <param name="Path">The path relative to the install root (canonical, see <c>DataPath</c>).</param>
/// <param name="Action">What to do.</param>
/// <param name="Length">The payload length in bytes (0 for a delete).</param>
/// <param name="Sha256">The SHA-256 of the whole file, lowercase hex.</param>
/// <param name="ChunkHashes">The SHA-256 of each chunk of <see cref="FixManifest.ChunkSize"/> bytes, so the payload is verified as it streams.</param>
public sealed record FixFile(string Path, FixFileAction Action, long Length, string Sha256, IReadOnlyList<string> ChunkHashes);

/// <summary>Which units a fix applies to.</summary>
/// <param name="Product">The product.</param>
/// <param name="MinVersion">The lowest installed version it applies to (inclusive), SemVer.</param>
/// <param name="MaxVersion">The installed version it no longer applies to (exclusive), SemVer; null for none.</param>
/// <param name="Units">Unit ids, or <c>*</c> for all.</param>
/// <param name="CustomerId">Only this customer's units, when set.</param>
/// <param name="ContractId">Only units under this contract, when set.</param>
public sealed record FixTarget(string Product, string MinVersion, string? MaxVersion, IReadOnlyList<string> Units, string? CustomerId, string? ContractId);

/// <summary>The signed manifest of a fix package (docs/formats/fix-package.md, version 1).</summary>
public sealed record FixManifest
{
    /// <summary>The document type of a fix manifest.</summary>
    public static DocumentType DocumentType { get; } = new("fix-manifest", 1);

    /// <summary>The default chunk size: 1 MiB.</summary>
    public const int DefaultChunkSize = 1024 * 1024;

    /// <summary>Gets the package id.</summary>
    public required string PackageId { get; init; }

    /// <summary>Gets the product.</summary>
    public required string Product { get; init; }

    /// <summary>Gets the version this fix installs (SemVer 2.0).</summary>
    public required string Version { get; init; }

    /// <summary>Gets what it applies to.</summary>
    public required FixTarget AppliesTo { get; init; }

    /// <summary>Gets when it was built.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when it expires: it is not installed after.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Gets the package ids it supersedes.</summary>
    public IReadOnlyList<string> Supersedes { get; init; } = [];

    /// <summary>Gets the release notes an approver reads.</summary>
    public required string ReleaseNotes { get; init; }

    /// <summary>Gets the chunk size of <see cref="FixFile.ChunkHashes"/>.</summary>
    public int ChunkSize { get; init; } = DefaultChunkSize;

    /// <summary>Gets the files, in payload order.</summary>
    public required IReadOnlyList<FixFile> Files { get; init; }

    /// <summary>Creates the unsigned envelope the release keys sign.</summary>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, DocumentJson.Serialize(this));

    /// <summary>Reads a manifest from an envelope.</summary>
    public static FixManifest FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return DocumentJson.Deserialize<FixManifest>(envelope, DocumentType);
    }
}
