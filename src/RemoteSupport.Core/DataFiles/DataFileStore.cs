using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
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
/// hashes before and after. On Linux every path is resolved by the kernel beneath the root's own
/// directory (<c>openat2</c> with <c>RESOLVE_BENEATH</c>, see <see cref="BeneathRoot"/>), so no layout of
/// links and no swap between a check and the use reaches outside the root; elsewhere every link on the
/// way is resolved and a path that leads outside its root is refused.
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

            _roots[name] = OpenedPath.RealFolder(directory.FullName);
        }
    }

    /// <summary>
    /// Gets whether paths are opened by the kernel beneath the root (Linux: <see cref="BeneathRoot"/>); otherwise
    /// every link on the way is resolved and checked, and each opened file's real path is checked before a
    /// byte is read or written (<see cref="OpenedPath"/>). Tests run both on Linux.
    /// </summary>
    internal bool ResolvesBeneathRoot { get; init; } = BeneathRoot.IsSupported;

    /// <summary>Reads a file the gate granted viewing; returns its content and hash.</summary>
    /// <exception cref="UnauthorizedAccessException">The decision does not grant viewing this file.</exception>
    public async Task<(byte[] Content, DataFileEvidence Evidence)> ViewAsync(ConsentDecision decision, CancellationToken cancellationToken = default)
    {
        FileStream stream = OpenView(decision);
        byte[] content;
        await using (stream.ConfigureAwait(false))
        {
            content = await ReadAllAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        return (content, new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, Hash(content), Hash(content)));
    }

    /// <summary>Opens a file the gate granted viewing, for reading as a stream (a view too large for one message).</summary>
    /// <exception cref="UnauthorizedAccessException">The decision does not grant viewing this file, or the path leads outside its root.</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    internal FileStream OpenView(ConsentDecision decision)
    {
        (string root, string file) = Resolve(decision, SupportOperation.ViewData);
        return ResolvesBeneathRoot
            ? BeneathRoot.OpenRead(root, decision.CanonicalPath!) ?? throw new FileNotFoundException($"'{decision.CanonicalPath}' does not exist in its data root.")
            : OpenChecked(root, file, decision.CanonicalPath!);
    }

    /// <summary>Opens <paramref name="file"/> for reading and checks that the opened file's real path lies below the root.</summary>
    private static FileStream OpenChecked(string root, string file, string canonical)
    {
        var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        try
        {
            OpenedPath.EnsureBelow(root, stream.SafeFileHandle, canonical);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The SHA-256 of an existing file, opened and checked as <see cref="OpenChecked"/> does; null when there is none.</summary>
    private static async Task<string?> CheckedHashAsync(string root, string file, string canonical, CancellationToken cancellationToken)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        FileStream stream = OpenChecked(root, file, canonical);
        await using (stream.ConfigureAwait(false))
        {
            return await Sha256Hex.OfAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<byte[]> ReadAllAsync(FileStream stream, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream();
        await stream.CopyToAsync(content, cancellationToken).ConfigureAwait(false);
        return content.ToArray();
    }

    /// <summary>
    /// Lists the files below the folder a <see cref="SupportOperation.ViewData"/> decision grants (listing
    /// names is viewing), at most <paramref name="maxEntries"/>, in path order. Only files whose paths
    /// match the data scope's patterns (and the approval's, when one was used) are listed. Symbolic links
    /// are not followed and not listed.
    /// </summary>
    /// <returns>The entries, and whether the listing stopped at <paramref name="maxEntries"/>.</returns>
    /// <exception cref="UnauthorizedAccessException">The decision does not grant viewing this folder.</exception>
    /// <exception cref="DirectoryNotFoundException">The path is not a folder.</exception>
    public (IReadOnlyList<DataFileEntry> Entries, bool Truncated) List(ConsentDecision decision, int maxEntries = 10_000)
    {
        (string root, string folder) = Resolve(decision, SupportOperation.ViewData);
        SafeFileHandle? opened = null;
        if (ResolvesBeneathRoot)
        {
            try
            {
                opened = BeneathRoot.OpenFolder(root, decision.CanonicalPath!);
            }
            catch (FileNotFoundException)
            {
                throw new DirectoryNotFoundException($"'{decision.CanonicalPath}' is not a folder of data root '{decision.Request.Root}'.");
            }

            folder = BeneathRoot.PathOf(opened); // the folder just opened, whatever its name leads to now
        }

        using SafeFileHandle? keepOpen = opened;
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
            if (!decision.Covers(relative))
            {
                continue; // below the folder, but outside the scope's patterns (or the approval's): not the vendor's to see
            }

            entries.Add(new DataFileEntry(relative, file.Length, file.LastWriteTimeUtc));
        }

        return ([.. entries.OrderBy(e => e.Path, StringComparer.Ordinal)], false);
    }

    /// <summary>Atomically replaces (or creates) a file the gate granted changing.</summary>
    public async Task<DataFileEvidence> ReplaceAsync(ConsentDecision decision, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        (string root, string file) = Resolve(decision, SupportOperation.ChangeData);
        if (ResolvesBeneathRoot)
        {
            return await ReplaceBeneathAsync(decision, root, content, cancellationToken).ConfigureAwait(false);
        }

        string? before = await CheckedHashAsync(root, file, decision.CanonicalPath!, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await DurableFile.WriteAsync(
            file, content, overwrite: true, opened: handle => OpenedPath.EnsureBelow(root, handle, decision.CanonicalPath!), // before a byte is written
            cancellationToken: cancellationToken).ConfigureAwait(false);

        return new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, before, Hash(content.Span));
    }

    /// <summary>Creates the temporary file beside the target, writes and flushes it, renames it over the target and flushes the folder: all relative to the opened folder.</summary>
    private static async Task<DataFileEvidence> ReplaceBeneathAsync(ConsentDecision decision, string root, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        string canonical = decision.CanonicalPath!;
        (SafeFileHandle folder, string name) = BeneathRoot.OpenParent(root, canonical, create: true);
        using (folder)
        {
            string? before = await HashOfAsync(root, canonical, cancellationToken).ConfigureAwait(false);
            string temporary = name + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + ".tmp";
            try
            {
                FileStream stream = BeneathRoot.CreateNew(folder, temporary, canonical);
                await using (stream.ConfigureAwait(false))
                {
                    await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                    stream.Flush(flushToDisk: true);
                }

                BeneathRoot.Replace(folder, temporary, name, canonical);
            }
            catch
            {
                BeneathRoot.Delete(folder, temporary, canonical, missingIsFine: true);
                throw;
            }

            return new DataFileEvidence(decision.Request.Root!, canonical, before, Hash(content.Span));
        }
    }

    private static async Task<string?> HashOfAsync(string root, string canonical, CancellationToken cancellationToken)
    {
        FileStream? stream = BeneathRoot.OpenRead(root, canonical);
        if (stream is null)
        {
            return null;
        }

        await using (stream.ConfigureAwait(false))
        {
            return await Sha256Hex.OfAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes a file the gate granted changing.</summary>
    public async Task<DataFileEvidence> DeleteAsync(ConsentDecision decision, CancellationToken cancellationToken = default)
    {
        (string root, string file) = Resolve(decision, SupportOperation.ChangeData);
        if (ResolvesBeneathRoot)
        {
            (SafeFileHandle folder, string name) = BeneathRoot.OpenParent(root, decision.CanonicalPath!, create: false);
            using (folder)
            {
                string? hash = await HashOfAsync(root, decision.CanonicalPath!, cancellationToken).ConfigureAwait(false);
                BeneathRoot.Delete(folder, name, decision.CanonicalPath!, missingIsFine: true);
                return new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, hash, null);
            }
        }

        string? before = await CheckedHashAsync(root, file, decision.CanonicalPath!, cancellationToken).ConfigureAwait(false);
        File.Delete(file);
        return new DataFileEvidence(decision.Request.Root!, decision.CanonicalPath!, before, null);
    }

    /// <returns>The data root's folder, and the file's full path (used as is only where <see cref="BeneathRoot"/> is not supported).</returns>
    private (string Root, string File) Resolve(ConsentDecision decision, SupportOperation operation)
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
        if (ResolvesBeneathRoot)
        {
            return (root, full); // links are refused as the path is opened, not resolved beforehand
        }

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

        return (root, full);
    }

    private static void EnsureUnder(string root, string path)
    {
        string prefix = root + Path.DirectorySeparatorChar;
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new UnauthorizedAccessException($"The path leads outside its data root ({path}).");
        }
    }

    private static string Hash(ReadOnlySpan<byte> content) => Sha256Hex.Of(content);
}
