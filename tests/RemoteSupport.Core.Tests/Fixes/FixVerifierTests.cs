using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Fixes;

public sealed partial class FixVerifierTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));
    private readonly PartyIdentity[] _release = [.. Enumerable.Range(0, 4).Select(_ => PartyIdentity.Create("contoso", PartyRole.Vendor))];
    private readonly FixTrust _trust;
    private readonly FixContext _unit = new("unit-7", "fabrikam", "contract-42", "ledger", "2.3.0");
    private readonly byte[] _dll = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);

    public FixVerifierTests()
    {
        _trust = new FixTrust(Root(1, [_release[0], _release[1], _release[2]]).ToEnvelope().Sign(_release[0]).Sign(_release[1]), _time);
        string source = Path.Combine(_folder.Path, "source");
        Directory.CreateDirectory(Path.Combine(source, "bin"));
        Directory.CreateDirectory(Path.Combine(source, "config"));
        File.WriteAllBytes(Path.Combine(source, "bin", "app.dll"), _dll);
        File.WriteAllText(Path.Combine(source, "config", "app.json"), "{\"retries\":3}");
    }

    public void Dispose()
    {
        _folder.Dispose();
        foreach (PartyIdentity key in _release)
        {
            key.Dispose();
        }
    }

    [Fact]
    public async Task BuiltPackage_Verifies_AndStagesExactlyItsFiles()
    {
        string package = await BuildAsync(Template(), [_release[0], _release[2]]);

        FixVerification result = await VerifyAsync(package);

        result.IsValid.Should().BeTrue(result.Sentence);
        byte[] file = await File.ReadAllBytesAsync(package);
        int manifestLength = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(8));
        SignedEnvelope manifestEnvelope = SignedEnvelope.Parse(file.AsSpan(12, manifestLength).ToArray());
        result.PackageHash.Should().Be(Convert.ToHexStringLower(SHA256.HashData(manifestEnvelope.Payload.Span)), "the package hash is the manifest's document hash: SHA-256 of its payload");
        (await File.ReadAllBytesAsync(Path.Combine(Staging, "bin", "app.dll"))).Should().Equal(_dll);
        result.Manifest!.Files.Select(f => f.Path).Should().Equal("bin/app.dll", "config/app.json");
        result.Manifest.Files[0].ChunkHashes.Should().HaveCount(4);
    }

    [Fact]
    public async Task Build_ReportsProgressThroughBothPasses_EndingAtTwiceThePayload()
    {
        long payload = Directory.EnumerateFiles(Path.Combine(_folder.Path, "source"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        var reported = new List<long>();
        var progress = new Recorder(reported);

        await FixPackage.BuildAsync(Path.Combine(_folder.Path, "source"), Template(), [_release[0], _release[1]], Path.Combine(_folder.Path, "p.rsfix"), progress, default);

        reported.Should().BeInAscendingOrder().And.HaveCountGreaterThan(4);
        reported.Should().Contain(v => v > payload / 2 && v < payload, "the hash pass reports as it reads");
        reported.Should().Contain(v => v > payload && v < 2 * payload, "so does the copy");
        reported[^1].Should().Be(2 * payload);
    }

    private sealed class Recorder(List<long> values) : IProgress<long>
    {
        public void Report(long value) => values.Add(value);
    }

    [Theory]
    [InlineData("two", "2.0.0")]
    [InlineData("2.4.0", "2.0")]
    public async Task Build_RefusesVersionsThatAreNotSemVer_AndWritesNothing(string version, string minVersion)
    {
        FixManifest template = Template() with { Version = version, AppliesTo = Template().AppliesTo with { MinVersion = minVersion } };
        string package = Path.Combine(_folder.Path, "bad.rsfix");

        Func<Task> build = () => FixPackage.BuildAsync(Path.Combine(_folder.Path, "source"), template, [_release[0], _release[1]], package);

        (await build.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("is not a SemVer 2.0 version");
        File.Exists(package).Should().BeFalse();
    }

    [Fact]
    public async Task ThePackageHash_DoesNotChange_WhenTheEnvelopeIsReserialised()
    {
        SignedEnvelope signed = Template().ToEnvelope().Sign(_release[0]).Sign(_release[1]);
        SignedEnvelope reordered = SignedEnvelope.Create(FixManifest.DocumentType, signed.Payload.ToArray())
            .AddSignature(signed.Signatures[1]).AddSignature(signed.Signatures[0]);
        string first = Path.Combine(_folder.Path, "first.rsfix");
        string second = Path.Combine(_folder.Path, "second.rsfix");
        await FixPackage.WriteAsync(signed, [], first, default);
        await FixPackage.WriteAsync(reordered, [], second, default);

        FixVerification a = await VerifyAsync(first);
        FixVerification b = await VerifyAsync(second, "staging-2");

        (await File.ReadAllBytesAsync(first)).Should().NotEqual(await File.ReadAllBytesAsync(second), "the envelopes differ in their signatures' order");
        a.IsValid.Should().BeTrue(a.Sentence);
        b.PackageHash.Should().Be(a.PackageHash).And.Be(DocumentJson.Hash(signed.Payload.Span));
    }

    [Fact]
    public async Task FlippedByteInTheManifest_IsRefused()
    {
        string package = await BuildAsync(Template(), [_release[0], _release[1]]);
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[200] ^= 0x01;
        await File.WriteAllBytesAsync(package, bytes);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().BeOneOf(FixRefusal.Malformed, FixRefusal.SignaturesInsufficient);
    }

    [Fact]
    public async Task FlippedByteInThePayload_IsRefused_NamingTheChunk()
    {
        string package = await BuildAsync(Template(), [_release[0], _release[1]]);
        byte[] bytes = await File.ReadAllBytesAsync(package);
        bytes[^100_000] ^= 0x01; // inside the last chunk of app.dll
        await File.WriteAllBytesAsync(package, bytes);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.HashMismatch);
        result.Sentence.Should().Contain("bin/app.dll");
    }

    [Fact]
    public async Task PayloadShorterOrLongerThanDeclared_IsRefused()
    {
        string package = await BuildAsync(Template(), [_release[0], _release[1]]);
        byte[] bytes = await File.ReadAllBytesAsync(package);

        await File.WriteAllBytesAsync(package, bytes[..^5]);
        (await VerifyAsync(package)).Reason.Should().Be(FixRefusal.Truncated);
        await File.WriteAllBytesAsync(package, [.. bytes, 0x42]);
        (await VerifyAsync(package, "staging-2")).Reason.Should().Be(FixRefusal.TrailingData);
    }

    [Fact]
    public async Task TooFewOrDuplicatedSignatures_AreRefused()
    {
        string one = await BuildAsync(Template(), [_release[0]]);
        (await VerifyAsync(one)).Reason.Should().Be(FixRefusal.SignaturesInsufficient);

        SignedEnvelope signedOnce = Template().ToEnvelope().Sign(_release[0]);
        SignedEnvelope twice = signedOnce.AddSignature(signedOnce.Signatures[0]);
        string duplicated = Path.Combine(_folder.Path, "duplicated.rsfix");
        await FixPackage.WriteAsync(twice, [], duplicated, default);
        (await VerifyAsync(duplicated, "staging-2")).Reason.Should().Be(FixRefusal.SignaturesInsufficient);
    }

    [Fact]
    public async Task AManifestSignedByAKeyTheRootDoesNotList_IsToldApartFromABadSignature_BeforeItsPayloadIsParsed()
    {
        using var outsider = PartyIdentity.Create("contoso", PartyRole.Vendor);
        // Not even a manifest: were the payload parsed before the signatures, this would be "malformed".
        SignedEnvelope garbage = SignedEnvelope.Create(FixManifest.DocumentType, "{ not a manifest"u8.ToArray()).Sign(outsider);
        string unlisted = Path.Combine(_folder.Path, "unlisted.rsfix");
        await FixPackage.WriteAsync(garbage, [], unlisted, default);
        SignedEnvelope genuine = Template().ToEnvelope().Sign(_release[0]).Sign(_release[1]);
        SignedEnvelope altered = SignedEnvelope.Create(FixManifest.DocumentType, (Template() with { ReleaseNotes = "altered" }).ToEnvelope().Payload.ToArray())
            .AddSignature(genuine.Signatures[0]).AddSignature(genuine.Signatures[1]);
        string forged = Path.Combine(_folder.Path, "forged.rsfix");
        await FixPackage.WriteAsync(altered, [], forged, default);

        FixVerification byOutsider = await VerifyAsync(unlisted);
        FixVerification badSignature = await VerifyAsync(forged, "staging-2");

        byOutsider.Reason.Should().Be(FixRefusal.SignaturesInsufficient);
        byOutsider.Sentence.Should().Contain("Signed by key(s) the root does not list: " + outsider.PublicKey.KeyId).And.NotContain("Bad signature");
        byOutsider.Manifest.Should().BeNull("the payload of an unsigned manifest is never parsed");
        badSignature.Reason.Should().Be(FixRefusal.SignaturesInsufficient);
        badSignature.Sentence.Should().Contain("Bad signature").And.Contain(_release[0].PublicKey.KeyId).And.NotContain("does not list");
    }

    [Fact]
    public async Task SignatureOfARotatedOutKey_NoLongerCounts()
    {
        SignedEnvelope next = Root(2, [_release[1], _release[2], _release[3]]).ToEnvelope()
            .Sign(_release[0]).Sign(_release[1]).Sign(_release[2]);
        _trust.Rotate(next).IsAccepted.Should().BeTrue();
        string package = await BuildAsync(Template(), [_release[0], _release[1]]);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.SignaturesInsufficient);
        result.Sentence.Should().Contain("signed by 1 release key");
    }

    [Fact]
    public void RootRotation_WithoutTheOldThreshold_IsRefused()
    {
        SignedEnvelope next = Root(2, [_release[3]]).ToEnvelope().Sign(_release[3]).Sign(_release[0]);

        _trust.Rotate(next).Sentence.Should().Contain("needs 2");
        _trust.Root.Version.Should().Be(1);
    }

    [Fact]
    public async Task ExpiredPackage_IsRefused()
    {
        string package = await BuildAsync(Template() with { ExpiresAt = _time.GetUtcNow().AddMinutes(-1) }, [_release[0], _release[1]]);

        (await VerifyAsync(package)).Reason.Should().Be(FixRefusal.Expired);
    }

    [Theory]
    [InlineData("2.3.0")]
    [InlineData("2.2.9")]
    public async Task VersionNotAboveTheInstalledOne_IsRefused(string version)
    {
        string package = await BuildAsync(Template() with { Version = version }, [_release[0], _release[1]]);

        (await VerifyAsync(package)).Reason.Should().Be(FixRefusal.Rollback);
    }

    [Fact]
    public async Task WrongProductOrCustomer_IsRefused()
    {
        FixManifest template = Template();
        string otherCustomer = await BuildAsync(template with { AppliesTo = template.AppliesTo with { CustomerId = "globex" } }, [_release[0], _release[1]]);
        string otherProduct = await BuildAsync(template with { Product = "other", AppliesTo = template.AppliesTo with { Product = "other" } }, [_release[0], _release[1]], "other.rsfix");

        (await VerifyAsync(otherCustomer)).Reason.Should().Be(FixRefusal.WrongTarget);
        (await VerifyAsync(otherProduct, "staging-2", _unit)).Reason.Should().Be(FixRefusal.WrongTarget);
    }

    [Theory]
    [InlineData("../evil.dll")]
    [InlineData("/etc/cron.d/evil")]
    [InlineData("bin/../../evil")]
    public async Task EntryPathsEscapingTheRoot_AreRefused(string path)
    {
        FixManifest manifest = Template() with { Files = [new FixFile(path, FixFileAction.Add, 1, Convert.ToHexStringLower(SHA256.HashData([0x41])), [Convert.ToHexStringLower(SHA256.HashData([0x41]))])] };
        string payload = Path.Combine(_folder.Path, "payload.bin");
        await File.WriteAllBytesAsync(payload, [0x41]);
        string package = Path.Combine(_folder.Path, "evil.rsfix");
        await FixPackage.WriteAsync(manifest.ToEnvelope().Sign(_release[0]).Sign(_release[1]), [payload], package, default);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.BadEntryPath);
        Directory.Exists(Staging).Should().BeFalse("nothing is staged for a refused manifest");
    }

    [Theory]
    [InlineData(0, 10L)]
    [InlineData(1024 * 1024, long.MaxValue)]
    [InlineData(-1, 10L)]
    public async Task HostileManifest_ChunkSizeZeroOrHugeLength_IsAMalformedRefusal_NotACrash(int chunkSize, long length)
    {
        // Signed by the release keys, so the manifest passes the signature check and reaches the arithmetic.
        FixManifest manifest = Template() with
        {
            ChunkSize = chunkSize,
            Files = [new FixFile("bin/app.dll", FixFileAction.Add, length, new string('a', 64), [new string('b', 64)])],
        };
        byte[] json = System.Text.Encoding.UTF8.GetBytes(manifest.ToEnvelope().Sign(_release[0]).Sign(_release[1]).ToJson());
        byte[] header = new byte[FixPackage.Magic.Length + 4];
        FixPackage.Magic.CopyTo(header, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(FixPackage.Magic.Length), (uint)json.Length);
        string package = Path.Combine(_folder.Path, "hostile.rsfix");
        await File.WriteAllBytesAsync(package, [.. header, .. json]);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.Malformed, result.Sentence);
        Directory.Exists(Staging).Should().BeFalse();
    }

    private string Staging => Path.Combine(_folder.Path, "staging");

    private async Task<FixVerification> VerifyAsync(string package, string staging = "staging", FixContext? context = null)
    {
        await using FileStream stream = File.OpenRead(package);
        return await FixVerifier.VerifyAsync(stream, _trust, context ?? _unit, Path.Combine(_folder.Path, staging), _time);
    }

    private async Task<string> BuildAsync(FixManifest template, PartyIdentity[] keys, string name = "fix.rsfix")
    {
        string package = Path.Combine(_folder.Path, name);
        File.Delete(package);
        await FixPackage.BuildAsync(Path.Combine(_folder.Path, "source"), template, keys, package);
        return package;
    }

    private VendorRoot Root(long version, PartyIdentity[] keys) => new()
    {
        VendorId = "contoso",
        Version = version,
        Expires = _time.GetUtcNow().AddYears(1),
        ReleaseKeys = [.. keys.Select(k => k.PublicKey.ToString())],
        Threshold = 2,
    };

    private FixManifest Template() => new()
    {
        PackageId = "ledger-fix-2.4.0",
        Product = "ledger",
        Version = "2.4.0",
        AppliesTo = new FixTarget("ledger", "2.0.0", "3.0.0", ["*"], "fabrikam", null),
        CreatedAt = _time.GetUtcNow(),
        ExpiresAt = _time.GetUtcNow().AddDays(30),
        ReleaseNotes = "Fixes month-end reconciliation.",
        Files = [],
    };
}
