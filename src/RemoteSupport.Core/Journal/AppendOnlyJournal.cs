using System.Buffers.Binary;
using System.Globalization;
using System.Threading.Channels;

namespace RemoteSupport.Journal;

/// <summary>A journal could not be opened or written; the message says why and where.</summary>
public sealed class JournalException : IOException
{
    /// <summary>Creates the exception.</summary>
    public JournalException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// An append-only journal file (docs/formats/journal.md, version 1): records framed with their
/// length and a CRC-32C, appended and made durable with fsync before an append is acknowledged
/// (concurrent appends are committed together), one writer process at a time (an exclusive file
/// lock). On open, a torn last record is cut off; a damaged record with records after it refuses
/// the open, naming it. Keeps the RFC 6962 leaf hashes, so it can give tree heads and proofs.
/// </summary>
public sealed partial class AppendOnlyJournal : IRecordJournal, IAsyncDisposable
{
    /// <summary>The largest record payload, in bytes.</summary>
    public const int MaxRecordLength = 16 * 1024 * 1024;

    internal const int FileHeaderLength = 16;
    internal const int RecordHeaderLength = 12;
    private const int SectorLength = 512;
    private static readonly byte[] Magic = "RSJOURNL"u8.ToArray();
    private const uint FormatVersion = 1;

    private readonly FileStream _file;
    private readonly LeafHashes _leafHashes;
    private readonly ChunkedList<long> _offsets;
    private readonly Channel<PendingAppend> _pending = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly Lock _gate = new();
    private long _length;

    private AppendOnlyJournal(FileStream file, LeafHashes leafHashes, ChunkedList<long> offsets, long length, long truncatedBytes)
    {
        _file = file;
        _leafHashes = leafHashes;
        _offsets = offsets;
        _leafHashes.Loader = LoadLeaves; // a complete block's leaves, read again from the file for a proof or an older root
        _length = length;
        TruncatedBytesOnOpen = truncatedBytes;
        _writer = WriteLoopAsync();
    }

    /// <summary>Gets the file's path.</summary>
    public string Path => _file.Name;

    /// <summary>Gets how many torn bytes were cut off the end when the journal was opened.</summary>
    public long TruncatedBytesOnOpen { get; }

    /// <summary>Gets the number of durable records.</summary>
    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _leafHashes.Count;
            }
        }
    }

    /// <summary>Opens the journal at <paramref name="path"/>, creating it when missing, and recovers a torn tail.</summary>
    /// <exception cref="JournalException">Another writer holds the journal, the file is not a journal, or a record before the end is damaged.</exception>
    public static async Task<AppendOnlyJournal> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FileStream file;
        bool created = !File.Exists(path);
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new JournalException($"The journal '{path}' is open for writing by another process or writer; one writer at a time.", ex);
        }

        try
        {
            (LeafHashes leaves, ChunkedList<long> offsets, long valid, long truncated) = await RecoverAsync(file, cancellationToken).ConfigureAwait(false);
            if (created)
            {
                DurableDirectory.FlushFor(path); // the new journal's name is as durable as its header
            }

            return new AppendOnlyJournal(file, leaves, offsets, valid, truncated);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Appends a record; completes once it is durable on disk, with the record's index.</summary>
    public async ValueTask<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (payload.Length > MaxRecordLength)
        {
            Error.Argument(nameof(payload), $"A journal record is at most {MaxRecordLength} bytes.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingAppend(payload.ToArray());
        ObjectDisposedException.ThrowIf(!_pending.Writer.TryWrite(pending), this);

        // Once queued, the record will be written: the caller must learn its index, so the wait
        // is not cancellable (a canceled wait would hide a durable record and invite a duplicate).
        return await pending.Completion.Task.ConfigureAwait(false);
    }

    /// <summary>Gets the byte offset of record <paramref name="index"/> in the file.</summary>
    internal long OffsetOf(long index)
    {
        lock (_gate)
        {
            return _offsets[(int)index];
        }
    }

    /// <summary>Reads record <paramref name="index"/>'s payload from the file.</summary>
    public async Task<byte[]> ReadAsync(long index, CancellationToken cancellationToken = default)
    {
        long offset;
        lock (_gate)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _leafHashes.Count);
            offset = _offsets[(int)index];
        }

        // Read through the writer's own handle: the exclusive lock keeps other handles out.
        byte[] header = new byte[RecordHeaderLength];
        await RandomAccess.ReadAsync(_file.SafeFileHandle, header, offset, cancellationToken).ConfigureAwait(false);
        byte[] payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        await RandomAccess.ReadAsync(_file.SafeFileHandle, payload, offset + RecordHeaderLength, cancellationToken).ConfigureAwait(false);
        return payload;
    }

    private const int RangeReadChunk = 1 << 20;

    /// <summary>
    /// Reads the records from <paramref name="from"/> below <paramref name="below"/> sequentially from the file, a
    /// megabyte at a time, checking each record's CRC-32C, and hands each to <paramref name="handler"/>.
    /// </summary>
    /// <exception cref="JournalException">A record's check does not match its bytes (the file changed on disk).</exception>
    public Task ReadRangeAsync(long from, long below, JournalRecordHandler handler, CancellationToken cancellationToken = default)
    {
        try
        {
            ReadRange(from, below, handler, cancellationToken);
            return Task.CompletedTask;
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }
    }

    /// <summary>Reads the records from <paramref name="from"/> below <paramref name="below"/> on the calling thread (file reads complete from the page cache or the disk either way).</summary>
    private void ReadRange(long from, long below, JournalRecordHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        long position;
        long end;
        lock (_gate)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(from);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(below, _leafHashes.Count);
            if (from >= below)
            {
                return;
            }

            position = _offsets[(int)from];
            end = below == _offsets.Count ? _length : _offsets[(int)below];
        }

        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(RangeReadChunk);
        try
        {
            long index = from;
            long recordOffset = position; // the file offset of buffer[at]
            int at = 0;
            int filled = 0;
            while (true)
            {
                int need = HandleRecords(buffer.AsSpan(at, filled - at), ref index, below, ref recordOffset, handler, out int consumed);
                at += consumed;
                if (index == below)
                {
                    return;
                }

                int remaining = filled - at;
                if (need > buffer.Length)
                {
                    byte[] larger = System.Buffers.ArrayPool<byte>.Shared.Rent(need);
                    buffer.AsSpan(at, remaining).CopyTo(larger);
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                else
                {
                    buffer.AsSpan(at, remaining).CopyTo(buffer);
                }

                (at, filled) = (0, remaining);
                cancellationToken.ThrowIfCancellationRequested();
                // Read in place: a file read completes from the page cache or the disk either way, and a hop to the
                // thread pool per megabyte costs more than it frees (the async call reads synchronously on Linux too).
                int read = RandomAccess.Read(_file.SafeFileHandle, buffer.AsSpan(filled, (int)Math.Min(buffer.Length - filled, end - position)), position);
                if (read == 0)
                {
                    throw Damaged(_file, index, recordOffset, "the file ends inside it");
                }

                position += read;
                filled += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hashes the records of one block again from the file (under the gate, as the leaves are asked for).</summary>
    private void LoadLeaves(long first, int count, byte[] destination) =>
        ReadRange(first, first + count, (index, payload) => MerkleTree.LeafHash(payload, destination.AsSpan((int)(index - first) * MerkleTree.HashLength, MerkleTree.HashLength)), CancellationToken.None);

    /// <summary>Hands every whole record at the start of <paramref name="bytes"/> to the handler.</summary>
    /// <returns>The bytes the next record needs in one piece (0 when the range is done).</returns>
    private int HandleRecords(ReadOnlySpan<byte> bytes, ref long index, long below, ref long recordOffset, JournalRecordHandler handler, out int consumed)
    {
        consumed = 0;
        while (index < below)
        {
            ReadOnlySpan<byte> rest = bytes[consumed..];
            if (rest.Length < RecordHeaderLength)
            {
                return RecordHeaderLength;
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(rest);
            if (Crc32C.Compute(rest[..4]) != BinaryPrimitives.ReadUInt32BigEndian(rest[4..]) || length > MaxRecordLength)
            {
                throw Damaged(_file, index, recordOffset, "its header does not match its check");
            }

            int whole = RecordHeaderLength + (int)length;
            if (rest.Length < whole)
            {
                return whole;
            }

            ReadOnlySpan<byte> payload = rest.Slice(RecordHeaderLength, (int)length);
            if (Crc32C.Compute(payload) != BinaryPrimitives.ReadUInt32BigEndian(rest[8..]))
            {
                throw Damaged(_file, index, recordOffset, "its checksum does not match its content");
            }

            handler(index, payload);
            index++;
            consumed += whole;
            recordOffset += whole;
        }

        return 0;
    }

    /// <summary>Copies every durable record to a new file at <paramref name="destination"/>: the copy a customer verifies offline.</summary>
    /// <returns>The number of records exported.</returns>
    public async Task<long> ExportAsync(string destination, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(destination);
        long length;
        long count;
        lock (_gate)
        {
            length = _length;
            count = _leafHashes.Count;
        }

        FileStream target = new(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
        await using (target.ConfigureAwait(false))
        {
            byte[] chunk = new byte[64 * 1024];
            for (long position = 0; position < length;)
            {
                int read = await RandomAccess.ReadAsync(_file.SafeFileHandle, chunk.AsMemory(0, (int)Math.Min(chunk.Length, length - position)), position, cancellationToken).ConfigureAwait(false);
                await target.WriteAsync(chunk.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                position += read;
            }

            target.Flush(flushToDisk: true);
        }

        return count;
    }

    /// <summary>Gets the tree head over the first <paramref name="size"/> records (all when null).</summary>
    public byte[] Root(long? size = null)
    {
        lock (_gate)
        {
            return _leafHashes.Root(size);
        }
    }

    /// <summary>Gets the inclusion proof of record <paramref name="index"/> in the tree of <paramref name="size"/> records.</summary>
    public IReadOnlyList<byte[]> InclusionProof(long index, long size)
    {
        lock (_gate)
        {
            return MerkleTree.InclusionProof(_leafHashes, index, size);
        }
    }

    /// <summary>Gets the consistency proof between the trees of <paramref name="size1"/> and <paramref name="size2"/> records.</summary>
    public IReadOnlyList<byte[]> ConsistencyProof(long size1, long size2)
    {
        lock (_gate)
        {
            return MerkleTree.ConsistencyProof(_leafHashes, size1, size2);
        }
    }

    /// <summary>Gets record <paramref name="index"/>'s leaf hash.</summary>
    public byte[] LeafHash(long index)
    {
        lock (_gate)
        {
            return _leafHashes[(int)index];
        }
    }

    /// <summary>Finishes pending appends and closes the file, releasing the lock.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingAppend>();
        while (await _pending.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (_pending.Reader.TryRead(out PendingAppend? next))
            {
                batch.Add(next);
            }

            try
            {
                long offset = _length;
                var buffer = new MemoryStream();
                var written = new List<(byte[] Leaf, long Offset)>(batch.Count);
                byte[] header = new byte[RecordHeaderLength];
                foreach (PendingAppend append in batch)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(header, (uint)append.Payload.Length);
                    BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), Crc32C.Compute(header.AsSpan(0, 4)));
                    BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), Crc32C.Compute(append.Payload));
                    buffer.Write(header);
                    buffer.Write(append.Payload);
                    written.Add((MerkleTree.LeafHash(append.Payload), offset));
                    offset += RecordHeaderLength + append.Payload.Length;
                }

                _file.Position = _length;
                await _file.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).ConfigureAwait(false);
                _file.Flush(flushToDisk: true); // group commit: one fsync for the whole batch
                long first;
                lock (_gate)
                {
                    first = _leafHashes.Count;
                    foreach ((byte[] leaf, long recordOffset) in written)
                    {
                        _leafHashes.Add(leaf);
                        _offsets.Add(recordOffset);
                    }

                    _length = offset;
                }

                for (int i = 0; i < batch.Count; i++)
                {
                    batch[i].Completion.TrySetResult(first + i);
                }
            }
            catch (Exception ex)
            {
                // Nothing of this batch is acknowledged; cut back whatever part of it reached the file.
                try
                {
                    _file.SetLength(_length);
                }
                catch (IOException)
                {
                }

                foreach (PendingAppend append in batch)
                {
                    append.Completion.TrySetException(new JournalException("The append was not made durable: " + ex.Message, ex));
                }
            }
        }
    }

    private sealed class PendingAppend(byte[] payload)
    {
        public byte[] Payload { get; } = payload;

        public TaskCompletionSource<long> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
