using System.Text;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

/// <summary>The tree's argument checks: proofs only inside a tree no larger than the leaves given, hashes of 32 bytes.</summary>
public sealed class MerkleTreeGuardTests
{
    private static readonly IReadOnlyList<byte[]> Leaves = Enumerable.Range(0, 5).Select(i => MerkleTree.LeafHash(Encoding.UTF8.GetBytes($"leaf {i}"))).ToList();

    [Theory]
    [InlineData(0, 0)]
    [InlineData(-1, 5)]
    [InlineData(5, 5)]
    [InlineData(2, 6)]
    [InlineData(3, 2)]
    public void AnInclusionProofOutsideTheTree_Throws(long index, long size)
    {
        FluentActions.Invoking(() => MerkleTree.InclusionProof(Leaves, index, size)).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("index");
    }

    [Fact]
    public void AnInclusionProofAtTheLastLeaf_IsGiven()
    {
        MerkleTree.VerifyInclusion(4, 5, Leaves[4], MerkleTree.InclusionProof(Leaves, 4, 5), MerkleTree.Root(Leaves, 5)).Should().BeTrue();
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(4, 3)]
    [InlineData(2, 6)]
    public void AConsistencyProofBetweenSizesOutOfOrder_Throws(long size1, long size2)
    {
        FluentActions.Invoking(() => MerkleTree.ConsistencyProof(Leaves, size1, size2)).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("size1");
    }

    [Fact]
    public void AConsistencyProofOfATreeWithItself_IsEmpty_AndVerifies()
    {
        byte[] root = MerkleTree.Root(Leaves, 5);

        MerkleTree.ConsistencyProof(Leaves, 5, 5).Should().BeEmpty();
        MerkleTree.VerifyConsistency(5, 5, [], root, root).Should().BeTrue();
    }

    [Fact]
    public void ARootOverMoreLeavesThanGiven_OrNoList_Throws()
    {
        FluentActions.Invoking(() => MerkleTree.Root(Leaves, 6)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => MerkleTree.Root(Leaves, -1)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => MerkleTree.Root(null!, 0)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => MerkleTree.InclusionProof(null!, 0, 1)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => MerkleTree.ConsistencyProof(null!, 1, 1)).Should().Throw<ArgumentNullException>();
        MerkleTree.Root(Leaves, 0).Should().Equal(MerkleTree.EmptyRoot());
    }

    [Theory]
    [InlineData(31, 32)]
    [InlineData(32, 33)]
    [InlineData(33, 31)]
    [InlineData(32, 32)]
    public void ANode_IsTheHashOfOneThenBothSides_WhateverTheirLengths(int left, int right)
    {
        byte[] l = Enumerable.Range(0, left).Select(i => (byte)i).ToArray();
        byte[] r = Enumerable.Range(0, right).Select(i => (byte)(255 - i)).ToArray();

        MerkleTree.NodeHash(l, r).Should().Equal(System.Security.Cryptography.SHA256.HashData([0x01, .. l, .. r]));
    }

    [Fact]
    public void TheLeafHashes_RefuseALeafOfAnotherLength_AndIndexesOutsideThem()
    {
        var leaves = new LeafHashes();
        leaves.Add(Leaves[0]);

        FluentActions.Invoking(() => leaves.Add(new byte[31])).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("leaf");
        FluentActions.Invoking(() => leaves[-1]).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => leaves[1]).Should().Throw<ArgumentOutOfRangeException>();
        leaves.Count.Should().Be(1);
        leaves.Should().Equal([Leaves[0]], (a, b) => a.AsSpan().SequenceEqual(b));
    }

    [Fact]
    public void TheChunkedList_RefusesIndexesOutsideIt_AndCrossesChunks()
    {
        var list = new ChunkedList<long>();
        for (long i = 0; i < 70_000; i++)
        {
            list.Add(i * 3);
        }

        list[65_535].Should().Be(65_535 * 3);
        list[65_536].Should().Be(65_536 * 3);
        list[69_999].Should().Be(69_999 * 3);
        FluentActions.Invoking(() => list[-1]).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => list[70_000]).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(17)]
    public void Crc32C_OfEveryLength_MatchesTheBitwiseDefinition(int length)
    {
        byte[] data = Enumerable.Range(0, length).Select(i => (byte)(i * 37 + 11)).ToArray();

        Crc32C.Compute(data).Should().Be(BitwiseCrc32C(data));
    }

    private static uint BitwiseCrc32C(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
            }
        }

        return ~crc;
    }
}
