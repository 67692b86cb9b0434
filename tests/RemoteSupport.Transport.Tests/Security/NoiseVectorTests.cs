using System.Text.Json;

namespace RemoteSupport.Transport.Tests.Security;

/// <summary>
/// Runs every Noise test vector in <c>NOISE_VECTORS_DIR</c> (default <c>tests/vectors/noise</c> in the
/// repository), one test case per vector, named by file and protocol (<see cref="NoiseVectorRunner"/>).
/// </summary>
public class NoiseVectorTests
{
    /// <summary>The cacophony vectors the repository ships (<c>tests/vectors/noise/README.md</c>).</summary>
    private const int ShippedVectors = 354;

    private static readonly Lazy<Dictionary<string, JsonElement>> Vectors = new(() => NoiseVectorRunner.Load(NoiseVectorRunner.Folder()));

    public static TheoryData<string> VectorNames()
    {
        var names = new TheoryData<string>();
        foreach (string name in Vectors.Value.Keys)
        {
            names.Add(name);
        }

        return names;
    }

    [Fact]
    [Trait("Category", "Conformance")]
    public void VectorFolder_HoldsVectors()
    {
        Vectors.Value.Should().NotBeEmpty($"the folder {NoiseVectorRunner.Folder()} must hold Noise vectors");
        if (Environment.GetEnvironmentVariable("NOISE_VECTORS_DIR") is not { Length: > 0 })
        {
            Vectors.Value.Should().HaveCountGreaterThanOrEqualTo(ShippedVectors, "the repository ships the cacophony vectors");
            Vectors.Value.Keys.Should().OnlyContain(k => k.StartsWith("cacophony-25519.json: Noise_", StringComparison.Ordinal));
        }
    }

    [Theory]
    [Trait("Category", "Conformance")]
    [MemberData(nameof(VectorNames))]
    public void Vector(string name)
    {
        NoiseVectorRunner.Run(Vectors.Value[name]);
    }
}

/// <summary>
/// The runner reads files from other implementations: a vector written by hand from the Noise
/// specification's schema, without any optional field, passes where every byte agrees and fails where
/// one differs; several files in a folder are all read, each case named by file and protocol.
/// </summary>
public sealed class NoiseVectorRunnerTests : IDisposable
{
    // Two vectors with only the fields every implementation writes: no handshake_hash, no psks and no
    // remote static keys (IK's pre-message key is the public key of resp_static). Values from the
    // cacophony vectors, trimmed to three messages.
    private const string MinimalFile = """
        {"vectors": [
          {"protocol_name": "Noise_NN_25519_ChaChaPoly_SHA256",
           "init_prologue": "4a6f686e2047616c74", "resp_prologue": "4a6f686e2047616c74",
           "init_ephemeral": "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
           "resp_ephemeral": "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
           "messages": [
             {"payload": "4c756477696720766f6e204d69736573", "ciphertext": "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
             {"payload": "4d757272617920526f746862617264", "ciphertext": "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843a0ff96bdf86b579ef7dbf94e812a7470b903c20a85a87e3a1fe863264ae547"},
             {"payload": "462e20412e20486179656b", "ciphertext": "eb1a3e3d80c1792b1bb9cb0e1382f8d8322bfb1ca7c4c8517bb686"}]},
          {"protocol_name": "Noise_IK_25519_AESGCM_SHA256",
           "init_prologue": "4a6f686e2047616c74", "resp_prologue": "4a6f686e2047616c74",
           "init_static": "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
           "init_ephemeral": "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
           "resp_static": "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
           "resp_ephemeral": "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
           "messages": [
             {"payload": "4c756477696720766f6e204d69736573", "ciphertext": "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444e417bc55c7a8166c993356c1be41ef67818a292426f301556c7f26b21d25ddb097153891a9a956cff47b83e63ad8d701c1342c209cff1ca5ecd43402762ac249e3bd3a4c0a145fe07cb5dae28ea13a3"},
             {"payload": "4d757272617920526f746862617264", "ciphertext": "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843af2ccf9972e22afc67aeafcd25162f7f98c363b7762e3e4cb7d272e39f27a5"},
             {"payload": "462e20412e20486179656b", "ciphertext": "66acfc92e3197de166809e6d4d5d003dcc819a84bc3522ca53c9d9"}]}
        ]}
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("noise-vectors-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void AVectorWithoutOptionalFields_Passes_WhereEveryByteAgrees()
    {
        File.WriteAllText(Path.Combine(_folder, "minimal.json"), MinimalFile);

        Dictionary<string, JsonElement> vectors = NoiseVectorRunner.Load(_folder);

        vectors.Keys.Should().Equal("minimal.json: Noise_NN_25519_ChaChaPoly_SHA256", "minimal.json: Noise_IK_25519_AESGCM_SHA256");
        foreach (JsonElement vector in vectors.Values)
        {
            FluentActions.Invoking(() => NoiseVectorRunner.Run(vector)).Should().NotThrow();
        }
    }

    [Theory]
    [InlineData("Noise_NN_25519_ChaChaPoly_SHA256", 0)]
    [InlineData("Noise_NN_25519_ChaChaPoly_SHA256", 2)]
    [InlineData("Noise_IK_25519_AESGCM_SHA256", 1)]
    public void AVectorWithoutOptionalFields_Fails_WhereOneByteDiffers(string protocol, int message)
    {
        JsonElement vector = Corrupt(protocol, message);

        FluentActions.Invoking(() => NoiseVectorRunner.Run(vector)).Should().Throw<Exception>()
            .Which.Message.Should().Contain($"message {message} of {protocol}");
    }

    [Fact]
    public void AGivenRemoteStaticKey_IsChecked_AgainstThePeersStaticKey()
    {
        string file = MinimalFile.Replace(
            "\"resp_static\": \"4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893\",",
            "\"resp_static\": \"4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893\", \"init_remote_static\": \"" + new string('1', 64) + "\",",
            StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_folder, "remote.json"), file);

        JsonElement ik = NoiseVectorRunner.Load(_folder)["remote.json: Noise_IK_25519_AESGCM_SHA256"];

        FluentActions.Invoking(() => NoiseVectorRunner.Run(ik)).Should().Throw<Exception>()
            .Which.Message.Should().Contain("init_remote_static");
    }

    [Fact]
    public void SeveralFiles_AreAllRead_EachCaseNamedByFileAndProtocol()
    {
        File.WriteAllText(Path.Combine(_folder, "a.json"), MinimalFile);
        File.WriteAllText(Path.Combine(_folder, "b.json"), MinimalFile);

        NoiseVectorRunner.Load(_folder).Keys.Should().BeEquivalentTo(
            "a.json: Noise_NN_25519_ChaChaPoly_SHA256", "a.json: Noise_IK_25519_AESGCM_SHA256",
            "b.json: Noise_NN_25519_ChaChaPoly_SHA256", "b.json: Noise_IK_25519_AESGCM_SHA256");
    }

    [Theory]
    [InlineData("Noise_NN_448_ChaChaPoly_SHA256", "448")]
    [InlineData("Noise_NN_25519_ChaChaPoly_BLAKE2s", "BLAKE2s")]
    public void AnUnsupportedSuite_IsReportedByName_NotPassed(string protocol, string part)
    {
        File.WriteAllText(Path.Combine(_folder, "other.json"), MinimalFile.Replace("Noise_NN_25519_ChaChaPoly_SHA256", protocol, StringComparison.Ordinal));

        JsonElement vector = NoiseVectorRunner.Load(_folder)[$"other.json: {protocol}"];

        FluentActions.Invoking(() => NoiseVectorRunner.Run(vector)).Should().Throw<NotSupportedException>()
            .Which.Message.Should().Contain("not run").And.Contain(part);
    }

    [Fact]
    public void AHybridVector_IsReportedAsUnsupported()
    {
        File.WriteAllText(Path.Combine(_folder, "hybrid.json"), MinimalFile.Replace("\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_SHA256\",", "\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_SHA256\", \"hybrid\": \"25519\",", StringComparison.Ordinal));

        JsonElement vector = NoiseVectorRunner.Load(_folder)["hybrid.json: Noise_NN_25519_ChaChaPoly_SHA256"];

        FluentActions.Invoking(() => NoiseVectorRunner.Run(vector)).Should().Throw<NotSupportedException>().Which.Message.Should().Contain("hybrid");
    }

    [Fact]
    public void AFailVector_Passes_OnlyWhenItsMessagesAreRefused()
    {
        string marked = MinimalFile.Replace("\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_SHA256\",", "\"protocol_name\": \"Noise_NN_25519_ChaChaPoly_SHA256\", \"fail\": true,", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_folder, "fail.json"), marked);
        JsonElement intact = NoiseVectorRunner.Load(_folder)["fail.json: Noise_NN_25519_ChaChaPoly_SHA256"];

        FluentActions.Invoking(() => NoiseVectorRunner.Run(intact)).Should().Throw<Exception>("its messages are valid, yet it says they must fail");

        File.WriteAllText(Path.Combine(_folder, "fail.json"), Flip(marked, "eb1a3e3d80c1792b1bb9cb0e1382f8d8322bfb1ca7c4c8517bb686"));
        JsonElement broken = NoiseVectorRunner.Load(_folder)["fail.json: Noise_NN_25519_ChaChaPoly_SHA256"];

        FluentActions.Invoking(() => NoiseVectorRunner.Run(broken)).Should().NotThrow();
    }

    private JsonElement Corrupt(string protocol, int message)
    {
        using JsonDocument document = JsonDocument.Parse(MinimalFile);
        JsonElement vector = document.RootElement.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("protocol_name").GetString() == protocol);
        string ciphertext = vector.GetProperty("messages")[message].GetProperty("ciphertext").GetString()!;
        File.WriteAllText(Path.Combine(_folder, "corrupt.json"), Flip(MinimalFile, ciphertext));
        return NoiseVectorRunner.Load(_folder)[$"corrupt.json: {protocol}"];
    }

    /// <summary>Flips the lowest bit of the last byte of one hex value in the file.</summary>
    private static string Flip(string file, string hex)
    {
        byte[] bytes = Convert.FromHexString(hex);
        bytes[^1] ^= 1;
        return file.Replace(hex, Convert.ToHexStringLower(bytes), StringComparison.Ordinal);
    }
}
