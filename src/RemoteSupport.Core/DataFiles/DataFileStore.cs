using System.Security.Cryptography;
using RemoteSupport.Consent;
using RemoteSupport.GroundRules;

namespace RemoteSupport.DataFiles;

/// <summary>The hashes of a viewed or changed data file (lowercase hex SHA-256; null where the file did not exist).</summary>
/// <param name="Root">The data root.</param>
/// <param name="Path">The canonical path.</param>
/// <param name="HashBefore">The content's hash before the operation.</param>
/// <param name="HashAfter">The content's hash after the operation.</param>
public sealed record DataFileEvidence(string Root, string Path, string? HashBefore, string? HashAfter);

/// <summary>One file in a listing of a data folder.</summary>
/// <param name="Path">The canonical path below the data root.</param>
/// <param name="Length">The size in bytes.</param>
/// <param name="LastWriteTime">When it was last written.</param>
public sealed record DataFileEntry(string Path, long Length, DateTimeOffset LastWriteTime);

/// <summary>
/// The customer's data files under named roots. Every operation needs a granted
/// <see cref="ConsentDecision"/> for exactly that operation and file. Views record the file's hash;
/// changes are atomic (temporary file in the same folder, flushed to disk, renamed, the folder fsynced) and record the
/// hashes before and after. Paths that escape a root, directly or through a symbolic link, are refused.
/// </summary>
public sealed class DataFileStore
{
    private readonly Dictionary<string, string> _roots;

    /// <summary>Creates a store over <paramref name="roots"/>: root names mapped to existing folders.</summary>
    public DataFileStore(IReadOnlyDictionary<string, string> roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        _roots = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, string folder) in roots)
        {
            var directory = new DirectoryInfo(Path.GetFullPath(folder));
            if (!directory.Exists)
            {
                Error.Argument(nameof(roots), $"The data root '{name}' folder '{folder}' does not exist.");
            }

            string real = directory.LinkTarget is null ? directory.FullName : directory.ResolveLinkTarget(returnFinalTarget: true)!.FullName;
            _roots[name] = Path.TrimEndingDirectorySeparator(real);
        }
    }

    /// <summary>Reads a file the gate granted viewing; returns its content and hash.</summary>
    /// <exception cref="UnauthorizedAccessException">The decision does not grant viewing this file.</exception>
    public async Task<(byte[] Content, DataFileEvidence Evidence)> ViewAsync(ConsentDecision decision, CancellationToken cancellationToken = default)
    {
        string file = Resolve(decision, SupportOperation.ViewData);
        byte[] content = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
        return (content, new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, Hash(content), Hash(content)));
    }

    /// <summary>
    /// Lists the files below the folder a <see cref="SupportOperation.ViewData"/> decision grants (listing
    /// names is viewing), at most <paramref name="maxEntries"/>, in path order. Symbolic links are not
    /// followed and not listed.
    /// </summary>
    /// <returns>The entries, and whether the listing stopped at <paramref name="maxEntries"/>.</returns>
    /// <exception cref="UnauthorizedAccessException">The decision does not grant viewing this folder.</exception>
    /// <exception cref="DirectoryNotFoundException">The path is not a folder.</exception>
    public (IReadOnlyList<DataFileEntry> Entries, bool Truncated) List(ConsentDecision decision, int maxEntries = 10_000)
    {
        string folder = Resolve(decision, SupportOperation.ViewData);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"'{decision.CanonicalPath}' is not a folder of data root '{decision.Request.Root}'.");
        }

        var entries = new List<DataFileEntry>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (FileInfo file in new DirectoryInfo(folder).EnumerateFiles("*", options))
        {
            if (entries.Count == maxEntries)
            {
                return ([.. entries.OrderBy(e => e.Path, StringComparer.Ordinal)], true);
            }

            string relative = decision.CanonicalPath + "/" + Path.GetRelativePath(folder, file.FullName).Replace(Path.DirectorySeparatorChar, '/');
            entries.Add(new DataFileEntry(relative, file.Length, file.LastWriteTimeUtc));
        }

        return ([.. entries.OrderBy(e => e.Path, StringComparer.Ordinal)], false);
    }

    /// <summary>Atomically replaces (or creates) a file the gate granted changing.</summary>
    public async Task<DataFileEvidence> ReplaceAsync(ConsentDecision decision, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        string file = Resolve(decision, SupportOperation.ChangeData);
        string? before = File.Exists(file) ? Hash(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false)) : null;
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        string temporary = file + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + ".tmp";
        try
        {
            FileStream stream = new(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, file, overwrite: true);
            DurableDirectory.FlushFor(file);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        return new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, before, Hash(content.Span));
    }

    /// <summary>Deletes a file the gate granted changing.</summary>
    public async Task<DataFileEvidence> DeleteAsync(ConsentDecision decision, CancellationToken cancellationToken = default)
    {
        string file = Resolve(decision, SupportOperation.ChangeData);
        string? before = File.Exists(file) ? Hash(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false)) : null;
        File.Delete(file);
        return new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, before, null);
    }

    private string Resolve(ConsentDecision decision, SupportOperation operation)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (!decision.IsGranted || decision.Request.Operation != operation || decision.CanonicalPath is null)
        {
            throw new UnauthorizedAccessException($"No consent decision grants {operation} of this file (decision {decision.DecisionId}: {decision.Outcome}).");
        }

        if (!ConsentGate.IsIssued(decision))
        {
            throw new UnauthorizedAccessException($"Decision {decision.DecisionId} was not issued by a consent gate: a grant cannot be built or copied by hand.");
        }

        if (decision.Request.Root is null || !_roots.TryGetValue(decision.Request.Root, out string? root))
        {
            throw new UnauthorizedAccessException($"'{decision.Request.Root}' is not a data root of this unit.");
        }

        string full = Path.GetFullPath(Path.Combine(root, decision.CanonicalPath));
        EnsureUnder(root, full);

        // A symbolic link anywhere on the way may point outside the root: resolve each existing part.
        string current = root;
        foreach (string segment in decision.CanonicalPath.Split('/'))
        {
            current = Path.Combine(current, segment);
            var info = new FileInfo(current);
            if (info.LinkTarget is not null)
            {
                FileSystemInfo? target = info.ResolveLinkTarget(returnFinalTarget: true);
                EnsureUnder(root, target?.FullName ?? string.Empty);
            }
        }

        return full;
    }

    private static void EnsureUnder(string root, string path)
    {
        string prefix = root + Path.DirectorySeparatorChar;
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new UnauthorizedAccessException($"The path leads outside its data root ({path}).");
        }
    }

    private static string Hash(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));
}
