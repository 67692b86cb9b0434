using RemoteSupport.Journal;

namespace RemoteSupport.Transport.Tests.Sessions;

/// <summary>A journal that fails the appends a test picks (a full disk, a pulled cable), and passes every other call to a real journal.</summary>
internal sealed class FaultyJournal(AppendOnlyJournal inner) : IRecordJournal
{
    /// <summary>Gets or sets which appends fail with an <see cref="IOException"/>; none by default.</summary>
    public Func<ReadOnlyMemory<byte>, bool> FailWhen { get; set; } = _ => false;

    public long Count => inner.Count;

    public ValueTask<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        FailWhen(payload) ? ValueTask.FromException<long>(new IOException("No space left on device.")) : inner.AppendAsync(payload, cancellationToken);

    public Task<byte[]> ReadAsync(long index, CancellationToken cancellationToken = default) => inner.ReadAsync(index, cancellationToken);

    public byte[] Root(long? size = null) => inner.Root(size);

    public Task<long> ExportAsync(string destination, CancellationToken cancellationToken = default) => inner.ExportAsync(destination, cancellationToken);
}
