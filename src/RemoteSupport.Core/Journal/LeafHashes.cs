using System.Collections;

namespace RemoteSupport.Journal;

/// <summary>
/// A journal's RFC 6962 leaf hashes, 32 bytes each, in chunks of 2 MiB (no object per leaf: a million records cost
/// 32 MB, not 56). The roots of the complete subtrees are kept as leaves are added (one node hash per leaf, amortized),
/// so the tree head over every leaf takes a few hashes, not a million; the last head of another size is kept too.
/// </summary>
internal sealed class LeafHashes : IReadOnlyList<byte[]>
{
    private const int ChunkBits = 16; // 65,536 leaves a chunk
    private const int ChunkLeaves = 1 << ChunkBits;
    private readonly List<byte[]> _chunks = [];
    private readonly byte[] _frontier = new byte[64 * MerkleTree.HashLength]; // the complete subtrees' roots, largest first: one per set bit of Count
    private int _frontierCount;
    private (long Size, byte[] Root)? _lastRoot;

    /// <summary>Gets the number of leaves.</summary>
    public int Count { get; private set; }

    /// <summary>Gets a copy of leaf <paramref name="index"/>.</summary>
    public byte[] this[int index] => Leaf(index).ToArray();

    /// <summary>Appends a leaf.</summary>
    public void Add(ReadOnlySpan<byte> leaf)
    {
        if (leaf.Length != MerkleTree.HashLength)
        {
            Error.Argument(nameof(leaf), $"A leaf hash is {MerkleTree.HashLength} bytes, not {leaf.Length}.");
        }

        if (Count == _chunks.Count * ChunkLeaves)
        {
            _chunks.Add(new byte[ChunkLeaves * MerkleTree.HashLength]);
        }

        leaf.CopyTo(_chunks[^1].AsSpan((Count & (ChunkLeaves - 1)) * MerkleTree.HashLength));
        Span<byte> node = stackalloc byte[MerkleTree.HashLength];
        leaf.CopyTo(node);
        for (int carry = Count; (carry & 1) == 1; carry >>= 1)
        {
            _frontierCount--;
            MerkleTree.NodeHash(Frontier(_frontierCount), node, node); // two subtrees of one height make one of the next
        }

        node.CopyTo(_frontier.AsSpan(_frontierCount++ * MerkleTree.HashLength));
        Count++;
    }

    /// <summary>Gets leaf <paramref name="index"/> in place.</summary>
    public ReadOnlySpan<byte> Leaf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _chunks[index >> ChunkBits].AsSpan((index & (ChunkLeaves - 1)) * MerkleTree.HashLength, MerkleTree.HashLength);
    }

    /// <summary>Gets the tree head over the first <paramref name="size"/> leaves (all when null): the last one computed again, or computed.</summary>
    public byte[] Root(long? size)
    {
        long at = size ?? Count;
        if (at == Count && Count > 0)
        {
            byte[] root = Frontier(_frontierCount - 1).ToArray();
            for (int i = _frontierCount - 2; i >= 0; i--)
            {
                MerkleTree.NodeHash(Frontier(i), root, root); // RFC 6962: the largest subtree, then the tree of the rest
            }

            return root;
        }

        if (_lastRoot is not { } last || last.Size != at)
        {
            _lastRoot = last = (at, MerkleTree.Root(this, at)); // leaves never change once added: a root once computed holds
        }

        return last.Root.ToArray();
    }

    private ReadOnlySpan<byte> Frontier(int index) => _frontier.AsSpan(index * MerkleTree.HashLength, MerkleTree.HashLength);

    public IEnumerator<byte[]> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
