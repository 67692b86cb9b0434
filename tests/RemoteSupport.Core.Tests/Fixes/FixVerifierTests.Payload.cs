using System.Buffers.Binary;
using System.Security.Cryptography;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Fixes;

/// <summary>
/// The verifier over the payload, each refusal by its sentence: where a payload is cut short, which chunk does not match,
/// a whole file that does not match its SHA-256 (checked when staging for an install), bytes after the last entry;
/// verifying without staging; and the signature refusal naming every signature that did not count.
/// </summary>
public sealed partial class FixVerifierTests
{
    private const int MiB = 1024 * 1024;

    /// <summary>The package's bytes and where its payload starts (after the 12-byte header and the manifest).</summary>
    private async Task<(byte[] Bytes, int PayloadStart)> BuiltPackageAsync()
    {
        byte[] bytes = await File.ReadAllBytesAsync(await BuildAsync(Template(), [_release[0], _release[1]]));
        return (bytes, 12 + (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8)));
    }

    /// <summary>Writes <paramref name="manifest"/>, signed by two release keys, with <paramref name="payload"/> as its payload (one file's bytes).</summary>
    private async Task<string> SignedPackageAsync(FixManifest manifest, byte[] payload)
    {
        string file = Path.Combine(_folder.Path, "payload-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(file, payload);
        string package = Path.Combine(_folder.Path, "package-" + Guid.NewGuid().ToString("N") + ".rsfix");
        await FixPackage.WriteAsync(manifest.ToEnvelope().Sign(_release[0]).Sign(_release[1]), [file], package, default);
        return package;
    }

    [Fact]
    public async Task APayloadCutShortInsideAFile_IsRefused_SayingHowManyOfItsBytesArrived()
    {
        (byte[] bytes, int payload) = await BuiltPackageAsync();

        FixVerification result = await VerifyBytesAsync(bytes[..(payload + MiB + (MiB / 2))]);

        result.Reason.Should().Be(FixRefusal.Truncated);
        result.Sentence.Should().Be($"The payload of bin/app.dll ends after {MiB + (MiB / 2)} of {_dll.Length} bytes.");
        result.Manifest!.PackageId.Should().Be("ledger-fix-2.4.0", "the manifest was read before the payload");
    }

    [Fact]
    public async Task AFlippedByte_IsRefused_NamingItsChunkAndFile()
    {
        (byte[] bytes, int payload) = await BuiltPackageAsync();
        bytes[payload + (2 * MiB) + 5] ^= 0x01;

        FixVerification result = await VerifyBytesAsync(bytes);

        result.Reason.Should().Be(FixRefusal.HashMismatch);
        result.Sentence.Should().Be("Chunk 2 of bin/app.dll does not match its hash.");
        result.Manifest.Should().NotBeNull();
    }

    [Fact]
    public async Task BytesAfterTheLastEntry_AreRefused()
    {
        (byte[] bytes, _) = await BuiltPackageAsync();

        FixVerification result = await VerifyBytesAsync([.. bytes, 0x00]);

        result.Reason.Should().Be(FixRefusal.TrailingData);
        result.Sentence.Should().Be("Data follows the last declared entry.");
        result.Manifest.Should().NotBeNull();
    }

    [Fact]
    public async Task AFileWhoseChunksMatchButNotItsSha256_IsRefusedWhenStaged_AndPassesAVerificationOnly()
    {
        string chunk = Convert.ToHexStringLower(SHA256.HashData([0x41]));
        FixManifest manifest = Template() with { Files = [new FixFile("bin/app.dll", FixFileAction.Replace, 1, Convert.ToHexStringLower(SHA256.HashData([0x42])), [chunk])] };
        string package = await SignedPackageAsync(manifest, [0x41]);

        FixVerification staged = await VerifyAsync(package);
        FixVerification checkedOnly;
        await using (FileStream stream = File.OpenRead(package))
        {
            checkedOnly = await FixVerifier.VerifyAsync(stream, _trust, _unit, null, _time);
        }

        staged.Reason.Should().Be(FixRefusal.HashMismatch);
        staged.Sentence.Should().Be("bin/app.dll does not match its SHA-256.");
        checkedOnly.IsValid.Should().BeTrue("without staging only the signed chunk hashes are checked: " + checkedOnly.Sentence);
    }

    [Fact]
    public async Task VerifyingWithoutAStagingFolder_ChecksEveryByte_AndWritesNothing()
    {
        string package = await BuildAsync(Template(), [_release[0], _release[1]]);
        string[] before = Directory.GetFileSystemEntries(_folder.Path, "*", SearchOption.AllDirectories);

        FixVerification result;
        await using (FileStream stream = File.OpenRead(package))
        {
            result = await FixVerifier.VerifyAsync(stream, _trust, _unit, null, _time);
        }

        result.IsValid.Should().BeTrue(result.Sentence);
        result.Sentence.Should().Be("ledger-fix-2.4.0 2.4.0 verified: 2 entries.");
        result.PackageHash.Should().NotBeNull();
        Directory.GetFileSystemEntries(_folder.Path, "*", SearchOption.AllDirectories).Should().BeEquivalentTo(before);
    }

    [Fact]
    public async Task AnEntryThatDeletes_HasNoPayload_AndIsNotStaged()
    {
        byte[] content = [0x41, 0x42];
        string hash = Convert.ToHexStringLower(SHA256.HashData(content));
        FixManifest manifest = Template() with
        {
            Files = [new FixFile("bin/old.dll", FixFileAction.Delete, 0, "", []), new FixFile("bin/new.dll", FixFileAction.Add, 2, hash, [hash])],
        };
        string package = await SignedPackageAsync(manifest, content);

        FixVerification result = await VerifyAsync(package);

        result.IsValid.Should().BeTrue(result.Sentence);
        result.Sentence.Should().Be("ledger-fix-2.4.0 2.4.0 verified: 2 entries staged.");
        Directory.GetFiles(Staging, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Staging, f).Replace('\\', '/')).Should().Equal("bin/new.dll");
        (await File.ReadAllBytesAsync(Path.Combine(Staging, "bin", "new.dll"))).Should().Equal(content);
    }

    [Fact]
    public async Task TooFewSignatures_AreRefused_CountingTheGoodOnes_AndNamingEveryBadAndUnlistedKey()
    {
        using var outsider = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var stranger = PartyIdentity.Create("globex", PartyRole.Vendor);
        SignedEnvelope genuine = Template().ToEnvelope();
        SignedEnvelope other = (Template() with { ReleaseNotes = "other" }).ToEnvelope().Sign(_release[1]).Sign(_release[2]);
        SignedEnvelope envelope = genuine.Sign(_release[0]).AddSignature(other.Signatures[0]).AddSignature(other.Signatures[1]).Sign(outsider).Sign(stranger);
        string package = Path.Combine(_folder.Path, "signers.rsfix");
        await FixPackage.WriteAsync(envelope, [], package, default);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.SignaturesInsufficient);
        result.Sentence.Should().Be(
            "The manifest is signed by 1 release key(s) of the current root (version 1); 2 are needed."
            + $" Bad signature (the manifest was altered, or the signature forged) by listed key(s): {_release[1].PublicKey.KeyId}, {_release[2].PublicKey.KeyId}."
            + $" Signed by key(s) the root does not list: {outsider.PublicKey.KeyId}, {stranger.PublicKey.KeyId}.");
        result.Manifest.Should().BeNull();
    }
}
