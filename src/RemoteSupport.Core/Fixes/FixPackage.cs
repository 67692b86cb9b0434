using System.Buffers.Binary;
using System.Security.Cryptography;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Fixes;

/// <summary>
/// The fix package file (version 1): <c>"RSFIXPK1"</c>, the manifest envelope's length (u32, at most
/// 1 MiB) and its JSON, then each added or replaced file's bytes in manifest order, nothing after.
/// </summary>
public static class FixPackage
{
    internal static readonly byte[] Magic = "RSFIXPK1"u8.ToArray();

    /// <summary>Builds a signed package at <paramref name="packagePath"/> from the files under <paramref name="sourceFolder"/>.</summary>
    /// <param name="sourceFolder">The files to add or replace, at their paths relative to the install root.</param>
    /// <param name="template">The manifest's fields; its <c>Files</c> are filled in from the folder (existing entries are kept as deletes).</param>
    /// <param name="releaseKeys">The release keys that sign.</param>
    /// <param name="packagePath">Where to write the package; must not exist.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
#pragma warning disable RS0027 // The shipped overload keeps its optional token; the new one has none, so no call is ambiguous.
    public static Task<FixManifest> BuildAsync(
        string sourceFolder, FixManifest template, IReadOnlyList<PartyIdentity> releaseKeys, string packagePath, CancellationToken cancellationToken = default) =>
#pragma warning restore RS0027
        BuildAsync(sourceFolder, template, releaseKeys, packagePath, null, cancellationToken);

    /// <summary>Builds a signed package, reporting progress: the payload is read twice (hashed, then copied into the package).</summary>
    /// <param name="sourceFolder">The files to add or replace, at their paths relative to the install root.</param>
    /// <param name="template">The manifest's fields; its <c>Files</c> are filled in from the folder (existing entries are kept as deletes).</param>
    /// <param name="releaseKeys">The release keys that sign.</param>
    /// <param name="packagePath">Where to write the package; must not exist.</param>
    /// <param name="progress">Told the payload bytes processed so far, hashed plus copied: it ends at twice the payload's size.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    public static async Task<FixManifest> BuildAsync(
        string sourceFolder, FixManifest template, IReadOnlyList<PartyIdentity> releaseKeys, string packagePath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(releaseKeys);
        // A unit refuses a package whose versions are not SemVer 2.0 (FixRefusal.Malformed): never build one.
        foreach ((string name, string? value) in new[] { ("Version", template.Version), ("AppliesTo.MinVersion", template.AppliesTo.MinVersion), ("AppliesTo.MaxVersion", template.AppliesTo.MaxVersion) })
        {
            if (value is not null && !NuGet.Versioning.SemanticVersion.TryParse(value, out _))
            {
                throw new ArgumentException($"{name} '{value}' is not a SemVer 2.0 version (e.g. 2.4.0).", nameof(template));
            }
        }

        string root = Path.GetFullPath(sourceFolder);
        var files = new List<FixFile>();
        var sources = new List<string>();
        long done = 0;
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (!DataPath.TryCanonicalize(relative, out string canonical, out string error))
            {
                throw new ArgumentException($"'{relative}' cannot be packaged: {error}", nameof(sourceFolder));
            }

            (long length, string sha, List<string> chunks) = await HashFileAsync(file, template.ChunkSize, done, progress, cancellationToken).ConfigureAwait(false);
            done += length;
            files.Add(new FixFile(canonical, FixFileAction.Replace, length, sha, chunks));
            sources.Add(file);
        }

        FixManifest manifest = template with { Files = [.. files, .. template.Files.Where(f => f.Action == FixFileAction.Delete)] };
        SignedEnvelope envelope = manifest.ToEnvelope();
        foreach (PartyIdentity key in releaseKeys)
        {
            envelope = envelope.Sign(key);
        }

        await WriteAsync(envelope, sources, packagePath, cancellationToken, copied => progress?.Report(done + copied)).ConfigureAwait(false);
        return manifest;
    }

    /// <summary>Writes a package from a signed manifest and the payload files, in manifest order.</summary>
    internal static async Task WriteAsync(SignedEnvelope manifest, IReadOnlyList<string> payloadFiles, string packagePath, CancellationToken cancellationToken, Action<long>? copied = null)
    {
        byte[] manifestJson = manifest.ToUtf8Json();
        FileStream output = new(packagePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await using (output.ConfigureAwait(false))
        {
            byte[] header = new byte[Magic.Length + 4];
            Magic.CopyTo(header, 0);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(Magic.Length), (uint)manifestJson.Length);
            await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await output.WriteAsync(manifestJson, cancellationToken).ConfigureAwait(false);
            long total = 0;
            byte[] buffer = new byte[1 << 16];
            foreach (string file in payloadFiles)
            {
                FileStream input = new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
                await using (input.ConfigureAwait(false))
                {
                    int read;
                    while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        total += read;
                        copied?.Invoke(total);
                    }
                }
            }

            output.Flush(flushToDisk: true);
        }
    }

    private static async Task<(long Length, string Sha256, List<string> Chunks)> HashFileAsync(
        string file, int chunkSize, long before, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunks = new List<string>();
        byte[] buffer = new byte[chunkSize];
        long length = 0;
        FileStream input = new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (input.ConfigureAwait(false))
        {
            int read;
            while ((read = await input.ReadAtLeastAsync(buffer, chunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
            {
                whole.AppendData(buffer, 0, read);
                chunks.Add(Sha256Hex.Of(buffer.AsSpan(0, read)));
                length += read;
                progress?.Report(before + length);
            }
        }

        return (length, Sha256Hex.Finish(whole), chunks);
    }
}
