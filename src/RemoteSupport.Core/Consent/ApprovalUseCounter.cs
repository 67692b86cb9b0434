using System.Text;

namespace RemoteSupport.Consent;

/// <summary>Counts the uses of approvals durably, so an approval's use limit survives a restart.</summary>
public interface IApprovalUseCounter
{
    /// <summary>Consumes one use of <paramref name="approvalId"/> if fewer than <paramref name="maxUses"/> were consumed; durable before it returns true.</summary>
    ValueTask<bool> TryConsumeAsync(string approvalId, int maxUses, CancellationToken cancellationToken = default);

    /// <summary>Gets how many uses of <paramref name="approvalId"/> were consumed.</summary>
    int UsesOf(string approvalId);
}

/// <summary>
/// The default <see cref="IApprovalUseCounter"/>: an append-only file with one line per use,
/// flushed to disk before a use is granted. A torn last line (a crash mid-write) is ignored on open.
/// </summary>
public sealed class FileApprovalUseCounter : IApprovalUseCounter, IDisposable
{
    private readonly FileStream _file;
    private readonly Dictionary<string, int> _uses = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    private FileApprovalUseCounter(FileStream file)
    {
        _file = file;
    }

    /// <summary>Opens (or creates) the counter file at <paramref name="path"/>; one process at a time.</summary>
    public static FileApprovalUseCounter Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 4096, FileOptions.None);
        var counter = new FileApprovalUseCounter(file);
        using var reader = new StreamReader(file, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        string content = reader.ReadToEnd();
        int complete = content.LastIndexOf('\n') + 1;
        foreach (string line in content[..complete].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            counter._uses[line] = counter._uses.GetValueOrDefault(line) + 1;
        }

        file.SetLength(Encoding.UTF8.GetByteCount(content[..complete]));
        file.Seek(0, SeekOrigin.End);
        return counter;
    }

    /// <inheritdoc/>
    public int UsesOf(string approvalId)
    {
        lock (_uses)
        {
            return _uses.GetValueOrDefault(approvalId);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> TryConsumeAsync(string approvalId, int maxUses, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(approvalId);
        if (approvalId.Contains('\n', StringComparison.Ordinal))
        {
            Error.Argument(nameof(approvalId), "An approval id is one line.");
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int used = UsesOf(approvalId);
            if (used >= maxUses)
            {
                return false;
            }

            byte[] line = Encoding.UTF8.GetBytes(approvalId + "\n");
            await _file.WriteAsync(line, cancellationToken).ConfigureAwait(false);
            _file.Flush(flushToDisk: true);
            lock (_uses)
            {
                _uses[approvalId] = used + 1;
            }

            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _file.Dispose();
        _gate.Dispose();
    }
}
