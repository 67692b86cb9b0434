using System.Collections;
using System.Globalization;

namespace RemoteSupport.Journal;

/// <summary>Writes the leaf hashes of the <paramref name="count"/> records from <paramref name="first"/>, 32 bytes each, to <paramref name="destination"/>, from the journal's store.</summary>
/// <param name="first">The first record's index (a multiple of <see cref="LeafHashes.BlockLeaves"/>).</param>
/// <param name="count">How many records (<see cref="LeafHashes.BlockLeaves"/>).</param>
/// <param name="destination">Where the hashes go, in index order.</param>
internal delegate void LeafBlockLoader(long first, int count, byte[] destination);

/// <summary>
/// A journal's RFC 6962 tree in memory, in 32 bytes per 64 records: the root of every complete block of
/// <see cref="BlockLeaves"/> leaves, and the leaves of the last, incomplete block. A million records cost half a
/// megabyte, not 32 MB. A leaf of a complete block is read again from the journal's store when asked for (a proof,
/// a tree head of an older size, a record compared): the block's leaves are checked against the root kept, so a
/// record changed in the store since it was taken in is found, not believed. The roots of the complete subtrees
/// are kept as leaves are added (one node hash per leaf, amortized), so the tree head over every leaf takes a few
/// hashes; the last head of another size is kept too.
/// </summary>
internal sealed class LeafHashes : IReadOnlyList<byte[]>
{
    /// <summary>The leaves in a block, whose root stands for them.</summary>
    internal const int BlockLeaves = 1 << BlockBits;
    private const int BlockBits = 6;
    private const int BlockBytes = BlockLeaves * MerkleTree.HashLength;
    private const int ChunkBits = 16; // 65,536 block roots (4,194,304 records) a 2 MiB chunk
    private const int ChunkRoots = 1 << ChunkBits;
    private readonly List<byte[]> _blockRoots = [];
    private readonly byte[] _tail = new byte[BlockBytes]; // the leaves of the incomplete last block
    private readonly byte[] _loaded = new byte[BlockBytes]; // the leaves of one complete block, read again
    private long _loadedBlock = -1;
    private readonly byte[] _frontier = new byte[64 * MerkleTree.HashLength]; // the complete subtrees' roots, largest first: one per set bit of Count
    private int _frontierCount;
    private (long Size, byte[] Root)? _lastRoot;

    /// <summary>Gets the number of leaves.</summary>
    public int Count { get; private set; }

    /// <summary>Gets or sets how a complete block's leaves are read again; without it, asking for one throws.</summary>
    public LeafBlockLoader? Loader { get; set; }

    private int CompleteBlocks => Count >> BlockBits;

    /// <summary>Gets a copy of leaf <paramref name="index"/>.</summary>
    public byte[] this[int index] => Leaf(index).ToArray();

    /// <summary>Appends a leaf.</summary>
    public void Add(ReadOnlySpan<byte> leaf)
    {
        if (leaf.Length != MerkleTree.HashLength)
        {
            Error.Argument(nameof(leaf), $"A leaf hash is {MerkleTree.HashLength} bytes, not {leaf.Length}.");
        }

        leaf.CopyTo(_tail.AsSpan((Count & (BlockLeaves - 1)) * MerkleTree.HashLength));
        Span<byte> node = stackalloc byte[MerkleTree.HashLength];
        leaf.CopyTo(node);
        int height = 0;
        for (int carry = Count; (carry & 1) == 1; carry >>= 1)
        {
            _frontierCount--;
            MerkleTree.NodeHash(Frontier(_frontierCount), node, node); // two subtrees of one height make one of the next
            if (++height == BlockBits)
            {
                AddBlockRoot(node); // this leaf completes a block: its root stands for its leaves from now on
            }
        }

        node.CopyTo(_frontier.AsSpan(_frontierCount++ * MerkleTree.HashLength));
        Count++;
    }

    /// <summary>Gets leaf <paramref name="index"/>, valid until the next call (a leaf of a complete block is read again from the store).</summary>
    /// <exception cref="JournalException">The store's leaves of the block no longer make the root kept (changed behind the journal's back).</exception>
    public ReadOnlySpan<byte> Leaf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        int block = index >> BlockBits;
        byte[] leaves = block == CompleteBlocks ? _tail : LoadBlock(block);
        return leaves.AsSpan((index & (BlockLeaves - 1)) * MerkleTree.HashLength, MerkleTree.HashLength);
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

    /// <summary>
    /// Writes the root of the complete subtree of <paramref name="count"/> leaves from <paramref name="start"/> from
    /// the block roots, when the subtree is whole blocks (a power of two of at least <see cref="BlockLeaves"/> leaves,
    /// aligned); otherwise returns false.
    /// </summary>
    public bool TryBlocksRoot(int start, int count, Span<byte> destination)
    {
        if (count < BlockLeaves || (count & (count - 1)) != 0 || (start & (count - 1)) != 0 || start + count > CompleteBlocks * BlockLeaves)
        {
            return false;
        }

        BlocksRoot(start >> BlockBits, count >> BlockBits, destination);
        return true;
    }

    /// <summary>
    /// Compares leaves computed again from the store's records with the tree, a block at a time: the records from
    /// <paramref name="first"/> (a block's first) whose leaves in <paramref name="leaves"/> differ are added to
    /// <paramref name="altered"/>. A complete block whose leaves make its root passes whole; one that does not is
    /// compared leaf by leaf with the store's leaves when those still make the root, and named whole otherwise.
    /// </summary>
    public void CollectAltered(long first, ReadOnlySpan<byte> leaves, List<long> altered)
    {
        int block = (int)(first >> BlockBits);
        if ((first & (BlockLeaves - 1)) != 0 || leaves.Length > BlockBytes || leaves.Length % MerkleTree.HashLength != 0)
        {
            Error.Argument(nameof(first), "Leaves are compared a block at a time, from its first.");
        }

        int count = leaves.Length / MerkleTree.HashLength;
        ReadOnlySpan<byte> kept;
        if (block == CompleteBlocks)
        {
            kept = _tail;
        }
        else
        {
            Span<byte> root = stackalloc byte[MerkleTree.HashLength];
            if (count == BlockLeaves)
            {
                MerkleTree.SubtreeRoot(leaves, root);
                if (root.SequenceEqual(BlockRoot(block)))
                {
                    return;
                }
            }

            try
            {
                _loadedBlock = -1; // a check reads the store as it is now
                kept = LoadBlock(block);
            }
            catch (JournalException)
            {
                for (int i = 0; i < BlockLeaves; i++)
                {
                    altered.Add(first + i); // the store's leaves were rewritten too: which record changed is not known
                }

                return;
            }
        }

        for (int i = 0; i < count; i++)
        {
            if (!leaves.Slice(i * MerkleTree.HashLength, MerkleTree.HashLength).SequenceEqual(kept.Slice(i * MerkleTree.HashLength, MerkleTree.HashLength)))
            {
                altered.Add(first + i);
            }
        }
    }

    private byte[] LoadBlock(int block)
    {
        if (_loadedBlock == block)
        {
            return _loaded;
        }

        LeafBlockLoader loader = Loader ?? throw new InvalidOperationException("The journal's leaves cannot be read again: no loader is set.");
        _loadedBlock = -1;
        long first = (long)block << BlockBits;
        loader(first, BlockLeaves, _loaded);
        Span<byte> root = stackalloc byte[MerkleTree.HashLength];
        MerkleTree.SubtreeRoot(_loaded, root);
        if (!root.SequenceEqual(BlockRoot(block)))
        {
            throw new JournalException(string.Create(CultureInfo.InvariantCulture,
                $"Records {first} to {first + BlockLeaves - 1} changed in the journal's store after they were taken in: they no longer hash to the tree this journal holds."));
        }

        _loadedBlock = block;
        return _loaded;
    }

    private void AddBlockRoot(ReadOnlySpan<byte> root)
    {
        int block = CompleteBlocks; // Count not yet incremented: the block this leaf completes
        if (block == _blockRoots.Count * ChunkRoots)
        {
            _blockRoots.Add(new byte[ChunkRoots * MerkleTree.HashLength]);
        }

        root.CopyTo(_blockRoots[^1].AsSpan((block & (ChunkRoots - 1)) * MerkleTree.HashLength));
    }

    private ReadOnlySpan<byte> BlockRoot(int block) =>
        _blockRoots[block >> ChunkBits].AsSpan((block & (ChunkRoots - 1)) * MerkleTree.HashLength, MerkleTree.HashLength);

    /// <summary>Writes the root of the complete subtree over <paramref name="blocks"/> (a power of two) blocks from <paramref name="first"/>.</summary>
    private void BlocksRoot(int first, int blocks, Span<byte> destination)
    {
        if (blocks == 1)
        {
            BlockRoot(first).CopyTo(destination);
            return;
        }

        Span<byte> children = stackalloc byte[2 * MerkleTree.HashLength];
        BlocksRoot(first, blocks / 2, children[..MerkleTree.HashLength]);
        BlocksRoot(first + (blocks / 2), blocks / 2, children[MerkleTree.HashLength..]);
        MerkleTree.NodeHash(children[..MerkleTree.HashLength], children[MerkleTree.HashLength..], destination);
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
