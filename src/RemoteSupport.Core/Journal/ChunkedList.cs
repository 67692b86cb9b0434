namespace RemoteSupport.Journal;

/// <summary>
/// An append-only list in chunks of 65,536 values: growing never copies, so a journal of a million records
/// leaves no trail of outgrown arrays (8 MB of them for its offsets) behind its open.
/// </summary>
internal sealed class ChunkedList<T>
    where T : unmanaged
{
    private const int ChunkBits = 16;
    private const int ChunkLength = 1 << ChunkBits;
    private readonly List<T[]> _chunks = [];

    public int Count { get; private set; }

    public T this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return _chunks[index >> ChunkBits][index & (ChunkLength - 1)];
        }
    }

    public void Add(T value)
    {
        if (Count == _chunks.Count * ChunkLength)
        {
            _chunks.Add(new T[ChunkLength]);
        }

        _chunks[^1][Count & (ChunkLength - 1)] = value;
        Count++;
    }
}
