using System.Buffers.Binary;

namespace RemoteSupport.Ledger;

/// <summary>One item read back from a <see cref="SortedSpool"/>: its key and its bytes, valid until the next read.</summary>
internal readonly ref struct SpoolItem(ulong key0, ulong key1, ReadOnlySpan<byte> tie, ReadOnlySpan<byte> payload)
{
    public ulong Key0 { get; } = key0;

    public ulong Key1 { get; } = key1;

    public ReadOnlySpan<byte> Tie { get; } = tie;

    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// An external sort in bounded memory: items (a key of two 64-bit words, then tie-breaking bytes, and a
/// payload) gather in an arena; a full arena is sorted and written as a run to a temporary file, deleted on
/// close; reading merges the runs and what is left in the arena. Memory is the arena, whatever the count.
/// </summary>
internal sealed class SortedSpool : IDisposable
{
    private const int ItemHeader = 4 + 8 + 8 + 4; // length of the rest, key0, key1, tie length
    private const int MinimumRunBuffer = 64 * 1024;
    private const int MergeBuffers = 2 * 1024 * 1024; // read buffers of all the runs together, at least the minimum each
    private byte[] _arena;
    private int _used;
    private Slot[] _slots;
    private int _count;
    private FileStream? _file;
    private long _fileLength;
    private readonly List<(long Start, long End)> _spilled = [];
    private Run[] _runs = [];
    private Run? _last;
    private bool _reading;

    /// <summary>Creates a spool keeping at most <paramref name="memoryBytes"/> of items in memory.</summary>
    public SortedSpool(int memoryBytes)
    {
        _arena = new byte[memoryBytes];
        _slots = new Slot[Math.Max(1024, memoryBytes / 128)]; // about an item per 128 bytes: a statement line's size
    }

    /// <summary>Gets the number of items added.</summary>
    public long Count { get; private set; }

    /// <summary>Gets the number of runs written to the temporary file so far.</summary>
    public int SpilledRuns => _spilled.Count;

    /// <summary>Adds an item; items come back ordered by key0, key1, then the tie bytes (ordinal).</summary>
    public void Add(ulong key0, ulong key1, ReadOnlySpan<byte> tie, ReadOnlySpan<byte> payload)
    {
        if (_reading)
        {
            throw new InvalidOperationException("The spool is being read; nothing can be added.");
        }

        int length = ItemHeader + tie.Length + payload.Length;
        if (_used + length > _arena.Length && _count > 0)
        {
            Spill();
        }

        if (length > _arena.Length)
        {
            _arena = new byte[length]; // one item larger than the arena: a record near the journal's limit
        }

        Span<byte> item = _arena.AsSpan(_used, length);
        BinaryPrimitives.WriteInt32LittleEndian(item, length - 4);
        BinaryPrimitives.WriteUInt64LittleEndian(item[4..], key0);
        BinaryPrimitives.WriteUInt64LittleEndian(item[12..], key1);
        BinaryPrimitives.WriteInt32LittleEndian(item[20..], tie.Length);
        tie.CopyTo(item[ItemHeader..]);
        payload.CopyTo(item[(ItemHeader + tie.Length)..]);
        if (_count == _slots.Length)
        {
            Array.Resize(ref _slots, _slots.Length * 2);
        }

        _slots[_count++] = new Slot(key0, key1, _used);
        _used += length;
        Count++;
    }

    /// <summary>Reads the next item in order; false after the last.</summary>
    public bool TryRead(out SpoolItem item)
    {
        if (!_reading)
        {
            StartReading();
        }
        else
        {
            _last?.MoveNext();
        }

        Run? least = null;
        foreach (Run run in _runs)
        {
            if (run.HasItem && (least is null || Compare(run, least) < 0))
            {
                least = run;
            }
        }

        _last = least;
        item = least is null ? default : new SpoolItem(least.Key0, least.Key1, least.Tie, least.Payload);
        return least is not null;
    }

    /// <summary>Deletes the temporary file.</summary>
    public void Dispose() => _file?.Dispose();

    private static int Compare(Run a, Run b) =>
        a.Key0 != b.Key0 ? a.Key0.CompareTo(b.Key0) : a.Key1 != b.Key1 ? a.Key1.CompareTo(b.Key1) : a.Tie.SequenceCompareTo(b.Tie);

    private void StartReading()
    {
        _reading = true;
        SortArena();
        var runs = new List<Run>();
        if (_spilled.Count > 0)
        {
            _file!.Flush();
            int buffer = Math.Max(MinimumRunBuffer, MergeBuffers / _spilled.Count);
            runs.AddRange(_spilled.Select(range => new FileRun(_file, range.Start, range.End, buffer)));
        }

        runs.Add(new MemoryRun(_arena, _slots, _count));
        _runs = [.. runs];
        foreach (Run run in _runs)
        {
            run.MoveNext();
        }
    }

    private void SortArena() => Array.Sort(_slots, 0, _count, new SlotComparer(_arena));

    private void Spill()
    {
        SortArena();
        _file ??= new FileStream(
            Path.Combine(Path.GetTempPath(), $"remotesupport-spool-{Guid.NewGuid():N}.tmp"),
            FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose);
        long start = _fileLength;
        for (int i = 0; i < _count; i++)
        {
            int offset = _slots[i].Offset;
            int length = 4 + BinaryPrimitives.ReadInt32LittleEndian(_arena.AsSpan(offset));
            _file.Write(_arena, offset, length);
            _fileLength += length;
        }

        _spilled.Add((start, _fileLength));
        _used = 0;
        _count = 0;
    }

    private readonly record struct Slot(ulong Key0, ulong Key1, int Offset);

    private sealed class SlotComparer(byte[] arena) : IComparer<Slot>
    {
        public int Compare(Slot x, Slot y)
        {
            if (x.Key0 != y.Key0)
            {
                return x.Key0.CompareTo(y.Key0);
            }

            return x.Key1 != y.Key1 ? x.Key1.CompareTo(y.Key1) : Tie(x.Offset).SequenceCompareTo(Tie(y.Offset));
        }

        private ReadOnlySpan<byte> Tie(int offset) =>
            arena.AsSpan(offset + ItemHeader, BinaryPrimitives.ReadInt32LittleEndian(arena.AsSpan(offset + 20)));
    }

    /// <summary>A sorted sequence of items with one current item.</summary>
    private abstract class Run
    {
        public bool HasItem { get; protected set; }

        public ulong Key0 { get; private set; }

        public ulong Key1 { get; private set; }

        public ReadOnlySpan<byte> Tie => Item.Slice(ItemHeader, BinaryPrimitives.ReadInt32LittleEndian(Item[20..]));

        public ReadOnlySpan<byte> Payload => Item[(ItemHeader + BinaryPrimitives.ReadInt32LittleEndian(Item[20..]))..];

        protected abstract ReadOnlySpan<byte> Item { get; }

        public abstract void MoveNext();

        protected void Current(ReadOnlySpan<byte> item)
        {
            HasItem = true;
            Key0 = BinaryPrimitives.ReadUInt64LittleEndian(item[4..]);
            Key1 = BinaryPrimitives.ReadUInt64LittleEndian(item[12..]);
        }
    }

    private sealed class MemoryRun(byte[] arena, Slot[] slots, int count) : Run
    {
        private int _next;
        private int _offset;

        protected override ReadOnlySpan<byte> Item => arena.AsSpan(_offset, 4 + BinaryPrimitives.ReadInt32LittleEndian(arena.AsSpan(_offset)));

        public override void MoveNext()
        {
            HasItem = false;
            if (_next < count)
            {
                _offset = slots[_next++].Offset;
                Current(Item);
            }
        }
    }

    /// <summary>A run in the temporary file, read through a buffer of its own.</summary>
    private sealed class FileRun(FileStream file, long start, long end, int bufferLength) : Run
    {
        private byte[] _buffer = new byte[bufferLength];
        private long _position = start;
        private int _at;
        private int _filled;
        private int _length;

        protected override ReadOnlySpan<byte> Item => _buffer.AsSpan(_at, _length);

        public override void MoveNext()
        {
            _at += _length;
            _length = 0;
            HasItem = false;
            if (!Ensure(4))
            {
                return;
            }

            int length = 4 + BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_at));
            if (!Ensure(length))
            {
                throw new IOException("The statement's temporary spool file ends inside an item: it was changed while being read.");
            }

            _length = length;
            Current(Item);
        }

        private bool Ensure(int bytes)
        {
            if (_filled - _at >= bytes)
            {
                return true;
            }

            int remaining = _filled - _at;
            byte[] target = bytes > _buffer.Length ? new byte[bytes] : _buffer;
            _buffer.AsSpan(_at, remaining).CopyTo(target);
            (_buffer, _at, _filled) = (target, 0, remaining);
            while (_filled < bytes && _position < end)
            {
                int read = RandomAccess.Read(file.SafeFileHandle, _buffer.AsSpan(_filled, (int)Math.Min(_buffer.Length - _filled, end - _position)), _position);
                if (read == 0)
                {
                    break;
                }

                _filled += read;
                _position += read;
            }

            return _filled >= bytes;
        }
    }
}
