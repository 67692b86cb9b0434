using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

public class LeafHashesTests
{
    private static List<byte[]> Leaves(int count) => [.. Enumerable.Range(0, count).Select(i => MerkleTree.LeafHash(BitConverter.GetBytes(i)))];

    /// <summary>A tree over <paramref name="leaves"/> whose complete blocks are read again from the list, counting the reads.</summary>
    private static LeafHashes Tree(List<byte[]> leaves, Action<long>? onLoad = null)
    {
        var tree = new LeafHashes();
        foreach (byte[] leaf in leaves)
        {
            tree.Add(leaf);
        }

        tree.Loader = (first, count, destination) =>
        {
            onLoad?.Invoke(first);
            for (int i = 0; i < count; i++)
            {
                leaves[(int)first + i].CopyTo(destination, i * MerkleTree.HashLength);
            }
        };
        return tree;
    }

    [Fact]
    public void RootsAndProofs_OfEverySize_AreThoseOfTheWholeLeafList()
    {
        List<byte[]> leaves = Leaves(300); // four complete blocks of 64 and a tail of 44
        LeafHashes tree = Tree(leaves);

        for (int size = 1; size <= 300; size += 7)
        {
            tree.Root(size).Should().Equal(MerkleTree.Root(leaves, size), $"the head of {size} leaves");
            int index = size * 31 % size;
            MerkleTree.InclusionProof(tree, index, size).Should().BeEquivalentTo(MerkleTree.InclusionProof(leaves, index, size), o => o.WithStrictOrdering());
            MerkleTree.ConsistencyProof(tree, Math.Max(1, size / 3), size).Should().BeEquivalentTo(MerkleTree.ConsistencyProof(leaves, Math.Max(1, size / 3), size), o => o.WithStrictOrdering());
        }

        tree.Root(null).Should().Equal(MerkleTree.Root(leaves, 300));
        tree[70].Should().Equal(leaves[70], "a leaf of a complete block, read again");
        tree[299].Should().Equal(leaves[299], "a leaf of the tail, kept");
    }

    [Fact]
    public void TheHeadOfWholeBlocks_ReadsNoLeaf_AndOneOfAnyOtherSize_ReadsOneBlock()
    {
        List<byte[]> leaves = Leaves(1000);
        var loads = new List<long>();
        LeafHashes tree = Tree(leaves, loads.Add);

        tree.Root(512).Should().Equal(MerkleTree.Root(leaves, 512));
        tree.Root(null).Should().Equal(MerkleTree.Root(leaves, 1000));
        loads.Should().BeEmpty("whole blocks come from their roots and the full tree from the frontier");

        tree.Root(700).Should().Equal(MerkleTree.Root(leaves, 700));
        loads.Should().Equal(640L);
    }

    [Fact]
    public void ABlockChangedInTheStore_IsRefused_NamingItsRecords()
    {
        List<byte[]> leaves = Leaves(200);
        LeafHashes tree = Tree(leaves);
        leaves[100] = MerkleTree.LeafHash("edited"u8);

        Action read = () => _ = tree[100];

        read.Should().Throw<JournalException>().WithMessage("Records 64 to 127 changed*");
        tree[10].Should().Equal(leaves[10], "another block is still read");
    }

    [Fact]
    public void CollectAltered_NamesTheRecordThatChanged_OrTheWholeBlockWhenTheStoredLeavesChangedToo()
    {
        List<byte[]> stored = Leaves(150);
        LeafHashes tree = Tree(stored);
        byte[] Block(int first, int count, int? changed)
        {
            byte[] block = new byte[count * MerkleTree.HashLength];
            for (int i = 0; i < count; i++)
            {
                (first + i == changed ? MerkleTree.LeafHash("edited"u8) : stored[first + i]).CopyTo(block, i * MerkleTree.HashLength);
            }

            return block;
        }

        var altered = new List<long>();
        tree.CollectAltered(0, Block(0, 64, changed: null), altered);
        tree.CollectAltered(64, Block(64, 64, changed: 70), altered);
        tree.CollectAltered(128, Block(128, 22, changed: 140), altered);
        altered.Should().Equal(70L, 140L);

        stored[70] = MerkleTree.LeafHash("edited"u8); // the payload and its stored leaf rewritten together
        altered.Clear();
        tree.CollectAltered(64, Block(64, 64, changed: 70), altered);
        altered.Should().Equal(Enumerable.Range(64, 64).Select(i => (long)i), "which record changed cannot be told: the block is named whole");
    }
}
