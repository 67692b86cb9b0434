using System.Security.Cryptography;

namespace RemoteSupport.Journal;

/// <summary>
/// RFC 6962 / RFC 9162 Merkle tree hashing over SHA-256: leaf hashes <c>SHA-256(0x00 || data)</c>,
/// node hashes <c>SHA-256(0x01 || left || right)</c>, tree heads, inclusion and consistency proofs
/// and their verification.
/// </summary>
public static class MerkleTree
{
    /// <summary>The hash length, in bytes.</summary>
    public const int HashLength = 32;

    /// <summary>The root of the empty tree: SHA-256 of nothing.</summary>
    public static byte[] EmptyRoot() => SHA256.HashData(ReadOnlySpan<byte>.Empty);

    // One SHA-256 context per thread, reset after each hash: a one-shot hash creates and frees a context per call,
    // and journals hash a leaf and about one node per record (that setup was most of a small record's hashing).
    [ThreadStatic]
    private static IncrementalHash? t_sha256;

    private static IncrementalHash Sha256 => t_sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Writes SHA-256 of <paramref name="input"/> (which <paramref name="destination"/> may overlap) with this thread's context.</summary>
    internal static void Sha256Of(ReadOnlySpan<byte> input, Span<byte> destination)
    {
        IncrementalHash hash = Sha256;
        hash.AppendData(input);
        hash.GetHashAndReset(destination);
    }

    /// <summary>Returns <c>SHA-256(0x00 || data)</c>.</summary>
    public static byte[] LeafHash(ReadOnlySpan<byte> data)
    {
        byte[] leaf = new byte[HashLength];
        LeafHash(data, leaf);
        return leaf;
    }

    /// <summary>Writes <c>SHA-256(0x00 || data)</c> to <paramref name="destination"/>.</summary>
    internal static void LeafHash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        IncrementalHash hash = Sha256;
        hash.AppendData([0x00]);
        hash.AppendData(data);
        hash.GetHashAndReset(destination);
    }

    /// <summary>Returns <c>SHA-256(0x01 || left || right)</c>.</summary>
    public static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> input = stackalloc byte[1 + (2 * HashLength)];
        if (left.Length != HashLength || right.Length != HashLength)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData([0x01]);
            hash.AppendData(left);
            hash.AppendData(right);
            return hash.GetHashAndReset();
        }

        input[0] = 0x01;
        left.CopyTo(input[1..]);
        right.CopyTo(input[(1 + HashLength)..]);
        return SHA256.HashData(input);
    }

    /// <summary>Writes <c>SHA-256(0x01 || left || right)</c> of two 32-byte hashes to <paramref name="destination"/> (which may be either of them).</summary>
    internal static void NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> destination)
    {
        IncrementalHash hash = Sha256; // the context holds both halves before the destination is written
        hash.AppendData([0x01]);
        hash.AppendData(left);
        hash.AppendData(right);
        hash.GetHashAndReset(destination);
    }

    /// <summary>The tree head of the first <paramref name="size"/> leaves.</summary>
    public static byte[] Root(IReadOnlyList<byte[]> leafHashes, long size)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, leafHashes.Count);
        return size == 0 ? EmptyRoot() : SubtreeRoot(leafHashes, 0, (int)size);
    }

    /// <summary>The inclusion proof of leaf <paramref name="index"/> in the tree of size <paramref name="size"/> (RFC 9162 2.1.3.1).</summary>
    public static IReadOnlyList<byte[]> InclusionProof(IReadOnlyList<byte[]> leafHashes, long index, long size)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        if (size < 1 || size > leafHashes.Count || index < 0 || index >= size)
        {
            Error.ArgumentOutOfRange(nameof(index), "The leaf must be inside a tree no larger than the journal.");
        }

        var proof = new List<byte[]>();
        BuildInclusion(leafHashes, (int)index, 0, (int)size, proof);
        return proof;
    }

    /// <summary>The consistency proof between the trees of sizes <paramref name="size1"/> and <paramref name="size2"/> (RFC 9162 2.1.4.1).</summary>
    public static IReadOnlyList<byte[]> ConsistencyProof(IReadOnlyList<byte[]> leafHashes, long size1, long size2)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        if (size1 < 1 || size1 > size2 || size2 > leafHashes.Count)
        {
            Error.ArgumentOutOfRange(nameof(size1), "Sizes must satisfy 0 < size1 <= size2 <= the journal's size.");
        }

        var proof = new List<byte[]>();
        if (size1 < size2)
        {
            BuildConsistency(leafHashes, (int)size1, 0, (int)size2, proof, true);
        }

        return proof;
    }

    /// <summary>Verifies an inclusion proof (RFC 9162 2.1.3.2).</summary>
    public static bool VerifyInclusion(long index, long size, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]>? proof, ReadOnlySpan<byte> root)
    {
        proof ??= [];
        if (index < 0 || index >= size || leafHash.Length != HashLength || root.Length != HashLength)
        {
            return false;
        }

        ulong fn = (ulong)index;
        ulong sn = (ulong)(size - 1);
        byte[] r = leafHash.ToArray();
        foreach (byte[] p in proof)
        {
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = NodeHash(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && r.AsSpan().SequenceEqual(root);
    }

    /// <summary>Verifies a consistency proof (RFC 9162 2.1.4.2); a check against the empty tree proves nothing and fails.</summary>
    public static bool VerifyConsistency(long size1, long size2, IReadOnlyList<byte[]>? proof, ReadOnlySpan<byte> root1, ReadOnlySpan<byte> root2)
    {
        proof ??= [];
        if (size1 <= 0 || size2 < size1)
        {
            return false;
        }

        if (size1 == size2)
        {
            return proof.Count == 0 && root1.SequenceEqual(root2);
        }

        if (proof.Count == 0)
        {
            return false;
        }

        var path = new List<byte[]>(proof.Count + 1);
        if ((size1 & (size1 - 1)) == 0)
        {
            path.Add(root1.ToArray());
        }

        path.AddRange(proof);
        ulong fn = (ulong)(size1 - 1);
        ulong sn = (ulong)(size2 - 1);
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        byte[] fr = path[0];
        byte[] sr = path[0];
        for (int i = 1; i < path.Count; i++)
        {
            byte[] c = path[i];
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                fr = NodeHash(c, fr);
                sr = NodeHash(c, sr);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                sr = NodeHash(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && fr.AsSpan().SequenceEqual(root1) && sr.AsSpan().SequenceEqual(root2);
    }

    private static int LargestPowerOfTwoBelow(int n)
    {
        int k = 1;
        while (k << 1 < n)
        {
            k <<= 1;
        }

        return k;
    }

    private static byte[] SubtreeRoot(IReadOnlyList<byte[]> leaves, int start, int count)
    {
        if (count == 1)
        {
            return leaves[start];
        }

        byte[] root = new byte[HashLength];
        SubtreeRoot(leaves, start, count, root);
        return root;
    }

    /// <summary>Writes the root of the tree over <paramref name="leaves"/> (32-byte leaf hashes, one after another; at least one) to <paramref name="destination"/>.</summary>
    internal static void SubtreeRoot(ReadOnlySpan<byte> leaves, Span<byte> destination)
    {
        int count = leaves.Length / HashLength;
        if (count == 1)
        {
            leaves.CopyTo(destination);
            return;
        }

        int k = LargestPowerOfTwoBelow(count);
        Span<byte> input = stackalloc byte[1 + (2 * HashLength)];
        input[0] = 0x01;
        SubtreeRoot(leaves[..(k * HashLength)], input.Slice(1, HashLength));
        SubtreeRoot(leaves[(k * HashLength)..], input[(1 + HashLength)..]);
        Sha256Of(input, destination);
    }

    /// <summary>Writes the subtree's root to <paramref name="destination"/>; no allocation, however many leaves.</summary>
    private static void SubtreeRoot(IReadOnlyList<byte[]> leaves, int start, int count, Span<byte> destination)
    {
        if (leaves is LeafHashes blocks && blocks.TryBlocksRoot(start, count, destination))
        {
            return; // whole blocks: from their roots, without reading a leaf
        }

        if (count == 1 && leaves is LeafHashes compact)
        {
            compact.Leaf(start).CopyTo(destination);
            return;
        }

        if (count == 1)
        {
            byte[] leaf = leaves[start];
            if (leaf.Length != HashLength)
            {
                Error.Argument(nameof(leaves), $"Leaf {start} is {leaf.Length} bytes; a leaf hash is {HashLength}.");
            }

            leaf.CopyTo(destination);
            return;
        }

        int k = LargestPowerOfTwoBelow(count);
        Span<byte> input = stackalloc byte[1 + (2 * HashLength)];
        input[0] = 0x01;
        SubtreeRoot(leaves, start, k, input.Slice(1, HashLength));
        SubtreeRoot(leaves, start + k, count - k, input[(1 + HashLength)..]);
        Sha256Of(input, destination); // the children are in the input: the destination may be either's place
    }

    private static void BuildInclusion(IReadOnlyList<byte[]> leaves, int index, int start, int count, List<byte[]> proof)
    {
        if (count <= 1)
        {
            return;
        }

        int k = LargestPowerOfTwoBelow(count);
        if (index < k)
        {
            BuildInclusion(leaves, index, start, k, proof);
            proof.Add(SubtreeRoot(leaves, start + k, count - k));
        }
        else
        {
            BuildInclusion(leaves, index - k, start + k, count - k, proof);
            proof.Add(SubtreeRoot(leaves, start, k));
        }
    }

    private static void BuildConsistency(IReadOnlyList<byte[]> leaves, int m, int start, int count, List<byte[]> proof, bool complete)
    {
        if (m == count)
        {
            if (!complete)
            {
                proof.Add(SubtreeRoot(leaves, start, count));
            }

            return;
        }

        int k = LargestPowerOfTwoBelow(count);
        if (m <= k)
        {
            BuildConsistency(leaves, m, start, k, proof, complete);
            proof.Add(SubtreeRoot(leaves, start + k, count - k));
        }
        else
        {
            BuildConsistency(leaves, m - k, start + k, count - k, proof, false);
            proof.Add(SubtreeRoot(leaves, start, k));
        }
    }
}
