using System.Text;
using System.Text.Json;
using RemoteSupport.Journal;

namespace RemoteSupport.Tests.Journal;

public class MerkleTreeTests
{
    [Fact]
    public void UnitValues_MatchRfc6962()
    {
        Convert.ToHexStringLower(MerkleTree.EmptyRoot()).Should().Be("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        Convert.ToHexStringLower(MerkleTree.LeafHash([])).Should().Be("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        Convert.ToHexStringLower(MerkleTree.LeafHash("L123456"u8)).Should().Be("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
        Convert.ToHexStringLower(MerkleTree.NodeHash("N123"u8, "N456"u8)).Should().Be("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb");
    }

    [Fact]
    public void Proofs_WeBuild_VerifyForEveryLeafAndSizeUpTo33()
    {
        List<byte[]> leaves = Enumerable.Range(0, 33).Select(i => MerkleTree.LeafHash(Encoding.ASCII.GetBytes($"record {i}"))).ToList();
        for (int size = 1; size <= leaves.Count; size++)
        {
            byte[] root = MerkleTree.Root(leaves, size);
            for (int index = 0; index < size; index++)
            {
                MerkleTree.VerifyInclusion(index, size, leaves[index], MerkleTree.InclusionProof(leaves, index, size), root).Should().BeTrue($"leaf {index} of {size}");
                MerkleTree.VerifyInclusion(index, size, leaves[(index + 1) % leaves.Count], MerkleTree.InclusionProof(leaves, index, size), root).Should().BeFalse();
            }

            for (int size1 = 1; size1 <= size; size1++)
            {
                byte[] root1 = MerkleTree.Root(leaves, size1);
                MerkleTree.VerifyConsistency(size1, size, MerkleTree.ConsistencyProof(leaves, size1, size), root1, root).Should().BeTrue($"{size1} -> {size}");
            }
        }
    }
}

/// <summary>
/// Every RFC 6962 inclusion and consistency vector under <c>RFC6962_VECTORS_DIR</c> (default
/// <c>tests/vectors/rfc6962</c> in the repository), one case per file, named by its path relative to that folder:
/// verification succeeds exactly when <c>wantErr</c> is false.
/// </summary>
public class Rfc6962VectorTests
{
    /// <summary>The transparency-dev/merkle vectors the repository ships (<c>tests/vectors/rfc6962/README.md</c>).</summary>
    private const int ShippedVectors = 122;

    public static TheoryData<string> Files()
    {
        var files = new TheoryData<string>();
        string folder = Folder();
        if (Directory.Exists(folder))
        {
            foreach (string file in Directory.GetFiles(folder, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                files.Add(Path.GetRelativePath(folder, file).Replace('\\', '/'));
            }
        }

        return files;
    }

    [Fact]
    [Trait("Category", "Conformance")]
    public void VectorFolder_HoldsInclusionAndConsistencyVectors()
    {
        IEnumerable<string> names = Files().Select((object[] row) => (string)row[0]);
        names.Should().Contain(n => n.StartsWith("inclusion/", StringComparison.Ordinal)).And.Contain(n => n.StartsWith("consistency/", StringComparison.Ordinal));
        if (Environment.GetEnvironmentVariable("RFC6962_VECTORS_DIR") is not { Length: > 0 })
        {
            names.Should().HaveCountGreaterThanOrEqualTo(ShippedVectors, "the repository ships the transparency-dev/merkle vectors");
        }
    }

    [Theory]
    [Trait("Category", "Conformance")]
    [MemberData(nameof(Files))]
    public void Vector(string file)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder(), file)));
        JsonElement v = document.RootElement;
        bool wantErr = v.GetProperty("wantErr").GetBoolean();
        bool verified = file.StartsWith("inclusion/", StringComparison.Ordinal)
            ? MerkleTree.VerifyInclusion(Number(v, "leafIdx"), Number(v, "treeSize"), Bytes(v, "leafHash"), Proof(v), Bytes(v, "root"))
            : MerkleTree.VerifyConsistency(Number(v, "size1"), Number(v, "size2"), Proof(v), Bytes(v, "root1"), Bytes(v, "root2"));

        verified.Should().Be(!wantErr, v.GetProperty("desc").GetString());
    }

    private static string Folder() => RepositoryPaths.Vectors("RFC6962_VECTORS_DIR", "rfc6962");

    /// <summary>Sizes and indexes beyond a signed 64-bit value (the vectors' unsigned wrap-arounds) are invalid: -1.</summary>
    private static long Number(JsonElement v, string name) => v.GetProperty(name).TryGetInt64(out long value) ? value : -1;

    private static byte[] Bytes(JsonElement v, string name) =>
        v.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? Convert.FromBase64String(value.GetString()!) : [];

    private static List<byte[]>? Proof(JsonElement v) =>
        v.TryGetProperty("proof", out JsonElement proof) && proof.ValueKind == JsonValueKind.Array
            ? proof.EnumerateArray().Select(p => Convert.FromBase64String(p.GetString()!)).ToList()
            : null;
}
