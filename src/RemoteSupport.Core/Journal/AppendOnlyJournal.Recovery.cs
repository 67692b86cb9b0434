using System.Buffers.Binary;
using System.Globalization;

namespace RemoteSupport.Journal;

/// <summary>Opening a journal file: reading it from the start, cutting a torn tail off, naming damage.</summary>
public sealed partial class AppendOnlyJournal
{
    /// <summary>Reads every record of a journal file; for offline verification of an exported copy.</summary>
    /// <exception cref="JournalException">The file is not a journal, or a record is damaged (named by index and offset).</exception>
    public static async Task<IReadOnlyList<byte[]>> ReadAllRecordsAsync(string path, CancellationToken cancellationToken = default)
    {
        using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite, Options = FileOptions.Asynchronous });
        var records = new List<byte[]>();
        await ScanAsync(file, strict: true, (prefixed, length, _) => records.Add(prefixed.AsSpan(1, length).ToArray()), cancellationToken).ConfigureAwait(false);
        return records;
    }

    private static async Task<(LeafHashes Leaves, ChunkedList<long> Offsets, long Valid, long Truncated)> RecoverAsync(FileStream file, CancellationToken cancellationToken)
    {
        if (file.Length < FileHeaderLength && await IsTornHeaderAsync(file, cancellationToken).ConfigureAwait(false))
        {
            file.SetLength(0); // the header write itself was torn: nothing was ever acknowledged
        }

        if (file.Length == 0)
        {
            byte[] header = new byte[FileHeaderLength];
            Magic.CopyTo(header, 0);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), FormatVersion);
            await file.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
            return (new LeafHashes(), new ChunkedList<long>(), FileHeaderLength, 0);
        }

        var leaves = new LeafHashes();
        var offsets = new ChunkedList<long>();
        long valid = await ScanAsync(file, strict: false, (prefixed, length, offset) =>
        {
            Span<byte> leaf = stackalloc byte[MerkleTree.HashLength];
            MerkleTree.Sha256Of(prefixed.AsSpan(0, 1 + length), leaf); // SHA-256(0x00 || payload)
            leaves.Add(leaf);
            offsets.Add(offset);
        }, cancellationToken).ConfigureAwait(false);
        long truncated = file.Length - valid;
        if (truncated > 0)
        {
            file.SetLength(valid);
            file.Flush(flushToDisk: true);
        }

        file.Position = valid;
        return (leaves, offsets, valid, truncated);
    }

    /// <summary>
    /// Reads records from the start and returns the end of the last whole record. Only an incomplete
    /// last record (or a zero-filled tail) counts as torn; any other mismatch is damage, named by record.
    /// </summary>
    /// <returns>The offset after the last whole record.</returns>
    /// <param name="file">The journal file.</param>
    /// <param name="strict">Whether a torn tail is damage too (an exported copy) rather than cut off.</param>
    /// <param name="onRecord">Called with a buffer holding 0x00 then the payload (reused: valid during the call), the payload's length and its record's offset.</param>
    /// <param name="cancellationToken">Stops the scan.</param>
    private static async Task<long> ScanAsync(FileStream file, bool strict, Action<byte[], int, long> onRecord, CancellationToken cancellationToken)
    {
        file.Position = 0;
        byte[] header = new byte[FileHeaderLength];
        if (file.Length < FileHeaderLength)
        {
            throw new JournalException($"'{file.Name}' is not a journal: it is shorter than the {FileHeaderLength}-byte header.");
        }

        await file.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        if (!header.AsSpan(0, 8).SequenceEqual(Magic) || BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)) != FormatVersion)
        {
            throw new JournalException($"'{file.Name}' is not a version {FormatVersion} journal.");
        }

        long offset = FileHeaderLength;
        long fileLength = file.Length;
        byte[] recordHeader = new byte[RecordHeaderLength];
        byte[] prefixed = new byte[4096]; // 0x00 then the payload: the leaf hash's input, one buffer for every record

        // Where the run of zero bytes that ends the file starts, and the first sector boundary from which the
        // file is zero: a write that extended the file but reached the disk only in its first sectors ends so.
        long zeroTail = strict ? fileLength : await ZeroTailStartAsync(file, cancellationToken).ConfigureAwait(false);
        long zeroSectors = (zeroTail + SectorLength - 1) / SectorLength * SectorLength;
        file.Position = FileHeaderLength;
        for (long index = 0; ; index++)
        {
            if (offset == fileLength)
            {
                return offset;
            }

            if (fileLength - offset < RecordHeaderLength)
            {
                return Torn(strict, index, offset);
            }

            await file.ReadExactlyAsync(recordHeader, cancellationToken).ConfigureAwait(false);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(recordHeader);
            if (Crc32C.Compute(recordHeader.AsSpan(0, 4)) != BinaryPrimitives.ReadUInt32BigEndian(recordHeader.AsSpan(4)))
            {
                if (!strict && (zeroTail <= offset || zeroSectors < offset + RecordHeaderLength))
                {
                    return offset; // a tail the file system extended but the write never (or only partly) filled
                }

                throw Damaged(file, index, offset, "its header does not match its check");
            }

            if (length > MaxRecordLength)
            {
                throw Damaged(file, index, offset, "its length is over the limit");
            }

            if (offset + RecordHeaderLength + length > fileLength)
            {
                return Torn(strict, index, offset);
            }

            if (prefixed.Length < 1 + length)
            {
                prefixed = new byte[Math.Max(1 + length, prefixed.Length * 2L)];
            }

            await file.ReadExactlyAsync(prefixed.AsMemory(1, (int)length), cancellationToken).ConfigureAwait(false);
            if (Crc32C.Compute(prefixed.AsSpan(1, (int)length)) != BinaryPrimitives.ReadUInt32BigEndian(recordHeader.AsSpan(8)))
            {
                if (!strict && zeroSectors < offset + RecordHeaderLength + length)
                {
                    return offset; // the last record's first sectors reached the disk, the rest of the extended file is zero
                }

                throw Damaged(file, index, offset, "its checksum does not match its content");
            }

            onRecord(prefixed, (int)length, offset);
            offset += RecordHeaderLength + length;
        }
    }

    private static async Task<bool> IsTornHeaderAsync(FileStream file, CancellationToken cancellationToken)
    {
        byte[] start = new byte[file.Length];
        file.Position = 0;
        await file.ReadExactlyAsync(start, cancellationToken).ConfigureAwait(false);
        byte[] header = new byte[FileHeaderLength];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), FormatVersion);
        return !start.AsSpan().ContainsAnyExcept((byte)0) || header.AsSpan().StartsWith(start);
    }

    /// <summary>Finds where the run of zero bytes that ends the file starts (the file's length when it does not end in a zero).</summary>
    private static async Task<long> ZeroTailStartAsync(FileStream file, CancellationToken cancellationToken)
    {
        byte[] chunk = new byte[64 * 1024];
        long end = file.Length;
        while (end > FileHeaderLength)
        {
            int read = (int)Math.Min(chunk.Length, end - FileHeaderLength);
            await RandomAccess.ReadAsync(file.SafeFileHandle, chunk.AsMemory(0, read), end - read, cancellationToken).ConfigureAwait(false);
            int last = chunk.AsSpan(0, read).LastIndexOfAnyExcept((byte)0);
            if (last >= 0)
            {
                return end - read + last + 1;
            }

            end -= read;
        }

        return end;
    }

    private static long Torn(bool strict, long index, long offset)
    {
        if (strict)
        {
            throw new JournalException(string.Create(CultureInfo.InvariantCulture, $"Record {index} at offset {offset} is incomplete: the file ends inside it."));
        }

        return offset;
    }

    private static JournalException Damaged(FileStream file, long index, long offset, string what) =>
        new(string.Create(CultureInfo.InvariantCulture, $"Record {index} at offset {offset} of '{file.Name}' is damaged: {what}."));
}
