using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;

namespace RemoteSupport.Tests.Fixes;

/// <summary>
/// The verifier at its edges: the package's framing before a manifest is read, both expiries at their instant, every
/// way a manifest can target another unit or version, the chunk size's bounds, and the entries it lists, each refusal by
/// its sentence. Manifests are written as signed, without the builder's own checks, so the verifier alone decides.
/// </summary>
public sealed partial class FixVerifierTests
{
    /// <summary>Writes <paramref name="manifest"/>, signed by two release keys, as a package without payload.</summary>
    private async Task<FixVerification> VerifyManifestAsync(FixManifest manifest, FixContext? context = null)
    {
        string package = Path.Combine(_folder.Path, "manifest-" + Guid.NewGuid().ToString("N") + ".rsfix");
        await FixPackage.WriteAsync(manifest.ToEnvelope().Sign(_release[0]).Sign(_release[1]), [], package, default);
        return await VerifyAsync(package, "staging-" + Guid.NewGuid().ToString("N"), context);
    }

    private async Task<FixVerification> VerifyBytesAsync(byte[] package)
    {
        string file = Path.Combine(_folder.Path, "bytes-" + Guid.NewGuid().ToString("N") + ".rsfix");
        await File.WriteAllBytesAsync(file, package);
        return await VerifyAsync(file, "staging-" + Guid.NewGuid().ToString("N"));
    }

    private static byte[] Framed(ReadOnlySpan<byte> magic, uint manifestLength, ReadOnlySpan<byte> rest)
    {
        byte[] bytes = new byte[magic.Length + 4 + rest.Length];
        magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(magic.Length), manifestLength);
        rest.CopyTo(bytes.AsSpan(magic.Length + 4));
        return bytes;
    }

    private static FixFile Entry(string path, long length = 1) =>
        new(path, FixFileAction.Add, length, Convert.ToHexStringLower(SHA256.HashData([0x41])), length > 0 ? [Convert.ToHexStringLower(SHA256.HashData([0x41]))] : []);

    [Fact]
    public async Task ThePackagesFraming_IsCheckedBeforeItsManifestIsRead()
    {
        byte[] real = await File.ReadAllBytesAsync(await BuildAsync(Template(), [_release[0], _release[1]]));
        byte[] wrongMagic = [.. real];
        wrongMagic[0] ^= 0x20;
        const string NotAPackage = "The file is not a version 1 fix package.";

        (await VerifyBytesAsync([])).Sentence.Should().Be(NotAPackage);
        (await VerifyBytesAsync(real[..11])).Sentence.Should().Be(NotAPackage, "the header is 12 bytes");
        (await VerifyBytesAsync(wrongMagic)).Sentence.Should().Be(NotAPackage);
        (await VerifyBytesAsync(Framed("RSFIXPK1"u8, 0, real.AsSpan(12)))).Sentence.Should().Be($"The manifest length 0 is outside [1, {FixVerifier.MaxManifestBytes}].");
        (await VerifyBytesAsync(Framed("RSFIXPK1"u8, FixVerifier.MaxManifestBytes + 1, real.AsSpan(12)))).Sentence.Should()
            .Be($"The manifest length {FixVerifier.MaxManifestBytes + 1} is outside [1, {FixVerifier.MaxManifestBytes}].");
        int manifestLength = (int)BinaryPrimitives.ReadUInt32BigEndian(real.AsSpan(8));
        FixVerification longest = await VerifyBytesAsync(Framed("RSFIXPK1"u8, FixVerifier.MaxManifestBytes, real.AsSpan(12, manifestLength)));
        longest.Reason.Should().Be(FixRefusal.Truncated, "a manifest of the largest length is read, and this one is cut short");
        longest.Sentence.Should().Be("The package ends inside its manifest.");
        FixVerification notAnEnvelope = await VerifyBytesAsync(Framed("RSFIXPK1"u8, 8, "not json"u8));
        notAnEnvelope.Reason.Should().Be(FixRefusal.Malformed);
        notAnEnvelope.Sentence.Should().StartWith("The manifest's envelope is malformed: ");
        Directory.EnumerateDirectories(_folder.Path, "staging-*").Should().BeEmpty("nothing is staged from a package refused this early");
    }

    [Fact]
    public async Task NullArguments_AreMisuse()
    {
        using var stream = new MemoryStream();

        await FluentActions.Awaiting(() => FixVerifier.VerifyAsync(null!, _trust, _unit, null)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("package");
        await FluentActions.Awaiting(() => FixVerifier.VerifyAsync(stream, null!, _unit, null)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("trust");
        await FluentActions.Awaiting(() => FixVerifier.VerifyAsync(stream, _trust, null!, null)).Should().ThrowAsync<ArgumentNullException>().WithParameterName("context");
    }

    [Fact]
    public async Task ThePackageExpires_AtItsInstant_AndTheVendorRootAtItsOwn()
    {
        DateTimeOffset start = _time.GetUtcNow();
        string package = await BuildAsync(Template(), [_release[0], _release[1]]);

        _time.SetUtcNow(start.AddDays(30).AddSeconds(-1));
        (await VerifyAsync(package, "staging-1")).IsValid.Should().BeTrue("a second before the package's expiry");
        _time.SetUtcNow(start.AddDays(30));
        (await VerifyAsync(package, "staging-2")).Sentence.Should().Be(
            string.Create(CultureInfo.InvariantCulture, $"The package expired at {start.AddDays(30):O}."));
        _time.SetUtcNow(start.AddYears(1));
        FixVerification rootExpired = await VerifyAsync(package, "staging-3");

        rootExpired.Reason.Should().Be(FixRefusal.Expired);
        rootExpired.Sentence.Should().Be(string.Create(CultureInfo.InvariantCulture, $"The vendor root (version 1) expired at {start.AddYears(1):O}."),
            "the root is checked before the package it vouches for");
    }

    [Theory]
    [InlineData("target-product")]
    [InlineData("product")]
    [InlineData("customer")]
    [InlineData("contract")]
    [InlineData("unit")]
    public async Task AManifestForAnotherUnitCustomerContractOrProduct_IsRefusedByName(string other)
    {
        FixManifest template = Template();
        FixTarget target = template.AppliesTo;
        FixManifest manifest = other switch
        {
            "target-product" => template with { AppliesTo = target with { Product = "ledger-pro" } },
            "product" => template with { Product = "ledger-pro", AppliesTo = target with { Product = "ledger-pro" } },
            "customer" => template with { AppliesTo = target with { CustomerId = "globex" } },
            "contract" => template with { AppliesTo = target with { ContractId = "contract-7" } },
            _ => template with { AppliesTo = target with { Units = ["unit-8", "unit-9"] } },
        };

        FixVerification result = await VerifyManifestAsync(manifest);

        result.Reason.Should().Be(FixRefusal.WrongTarget);
        result.Sentence.Should().Be($"ledger-fix-2.4.0 targets {manifest.AppliesTo.Product} for other units, customers or contracts than unit-7 of fabrikam.");
    }

    [Fact]
    public async Task AManifestNamingThisUnitContractAndCustomer_IsForIt()
    {
        FixManifest template = Template();

        FixVerification result = await VerifyManifestAsync(template with { AppliesTo = template.AppliesTo with { Units = ["unit-8", "unit-7"], ContractId = "contract-42" } });

        result.IsValid.Should().BeTrue(result.Sentence);
        result.Sentence.Should().Be("ledger-fix-2.4.0 2.4.0 verified: 0 entries staged.");
        Directory.EnumerateDirectories(_folder.Path, "staging-*").Should().ContainSingle("the staging folder is made for a verified package, even one that only deletes");
    }

    [Fact]
    public async Task ASignedDocumentThatIsNotAManifest_IsMalformed()
    {
        SignedEnvelope notAManifest = SignedEnvelope.Create(FixManifest.DocumentType, "{\"packageId\":\"ledger-fix-2.4.0\"}"u8.ToArray()).Sign(_release[0]).Sign(_release[1]);
        string package = Path.Combine(_folder.Path, "not-a-manifest.rsfix");
        await FixPackage.WriteAsync(notAManifest, [], package, default);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.Malformed);
        result.Sentence.Should().StartWith("The manifest is malformed: ");
        FluentActions.Invoking(() => FixManifest.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
    }

    [Theory]
    [InlineData("extra")]
    [InlineData("short")]
    public async Task AChunkHashThatIsNotExactly32Bytes_NeverMatches_EvenWhenItStartsWithTheRightHash(string flaw)
    {
        byte[] content = [0x41];
        string right = Convert.ToHexStringLower(SHA256.HashData(content));
        string chunk = flaw == "extra" ? right + "00" : right[..62];
        FixManifest manifest = Template() with { Files = [new FixFile("bin/app.dll", FixFileAction.Replace, 1, right, [chunk])] };
        string package = await SignedPackageAsync(manifest, content);

        FixVerification result = await VerifyAsync(package);

        result.Reason.Should().Be(FixRefusal.HashMismatch);
        result.Sentence.Should().Be("Chunk 0 of bin/app.dll does not match its hash.");
    }

    [Theory]
    [InlineData("2.4.0", "2.0.0", "3.0.0", "1.9.0", "The installed 1.9.0 is outside [2.0.0, 3.0.0).")]
    [InlineData("3.1.0", "2.0.0", "3.0.0", "3.0.0", "The installed 3.0.0 is outside [2.0.0, 3.0.0).")]
    [InlineData("9.0.0", "2.0.0", null, "1.0.0", "The installed 1.0.0 is outside [2.0.0, ∞).")]
    [InlineData("2.4.0", "2.0.0", "3.0.0", "2.0.0", null)]
    [InlineData("9.0.0", "2.0.0", null, "8.9.9", null)]
    [InlineData("2.4.0", "2.0.0", "3.0.0", null, null)]
    public async Task TheInstalledVersion_MustLieInTheTargetsRange_FromItsMinimumUpToItsMaximum(string version, string min, string? max, string? installed, string? refusal)
    {
        FixManifest template = Template();

        FixVerification result = await VerifyManifestAsync(template with { Version = version, AppliesTo = template.AppliesTo with { MinVersion = min, MaxVersion = max } },
            _unit with { InstalledVersion = installed });

        result.IsValid.Should().Be(refusal is null, result.Sentence);
        if (refusal is not null)
        {
            result.Reason.Should().Be(FixRefusal.WrongTarget);
            result.Sentence.Should().Be(refusal);
        }
    }

    [Theory]
    [InlineData("two", "2.0.0", "3.0.0")]
    [InlineData("2.4.0", "two", "3.0.0")]
    [InlineData("2.4.0", "2.0.0", "three")]
    public async Task AVersionThatIsNotSemVer_IsRefused_WhereverItStands(string version, string min, string max)
    {
        FixManifest template = Template();

        FixVerification result = await VerifyManifestAsync(template with { Version = version, AppliesTo = template.AppliesTo with { MinVersion = min, MaxVersion = max } });

        result.Reason.Should().Be(FixRefusal.Malformed);
        result.Sentence.Should().Be("A version in the manifest is not SemVer 2.0.");
    }

    [Theory]
    [InlineData(4095, false)]
    [InlineData(4096, true)]
    [InlineData(16 * 1024 * 1024, true)]
    [InlineData(16 * 1024 * 1024 + 1, false)]
    public async Task TheChunkSize_IsFrom4KiBTo16MiB(int chunkSize, bool accepted)
    {
        FixVerification result = await VerifyManifestAsync(Template() with { ChunkSize = chunkSize });

        result.IsValid.Should().Be(accepted, result.Sentence);
        if (!accepted)
        {
            result.Sentence.Should().Be("The chunk size is outside [4 KiB, 16 MiB].");
        }
    }

    [Fact]
    public async Task TheEntries_AreCanonical_ListedOnce_AndTheirLengthsAgreeWithTheirChunks()
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData([0x41]));

        (await VerifyManifestAsync(Template() with { Files = [Entry("bin/./app.dll")] })).Sentence.Should()
            .Be("Entry 'bin/./app.dll' is refused: A data path must not contain empty, '.' or '..' segments ('bin/./app.dll').");
        FixVerification decomposed = await VerifyManifestAsync(Template() with { Files = [Entry("bin/cafe\u0301.dll")] });
        decomposed.Reason.Should().Be(FixRefusal.BadEntryPath);
        decomposed.Sentence.Should().Be("Entry 'bin/cafe\u0301.dll' is refused: not canonical", "a valid path that is not in its canonical (NFC) form is refused too");
        FixVerification twice = await VerifyManifestAsync(Template() with { Files = [Entry("bin/app.dll"), Entry("bin/APP.dll")] });
        twice.Reason.Should().Be(FixRefusal.BadEntryPath);
        twice.Sentence.Should().Be("Entry 'bin/APP.dll' is listed twice.", "names that differ only in case are one file on some file systems");
        (await VerifyManifestAsync(Template() with { Files = [Entry("bin/app.dll", length: -1)] })).Sentence.Should().Be("Entry 'bin/app.dll' has a negative length (-1).");
        (await VerifyManifestAsync(Template() with { Files = [new FixFile("bin/old.dll", FixFileAction.Delete, 1, hash, [])] })).Sentence.Should()
            .Be($"Entry 'bin/old.dll' has inconsistent length and chunk hashes (1 bytes in chunks of {FixManifest.DefaultChunkSize} need 0 hashes; 0 given).");
        (await VerifyManifestAsync(Template() with { Files = [new FixFile("bin/app.dll", FixFileAction.Add, FixManifest.DefaultChunkSize + 1, hash, [hash])] })).Sentence.Should()
            .Be($"Entry 'bin/app.dll' has inconsistent length and chunk hashes ({FixManifest.DefaultChunkSize + 1} bytes in chunks of {FixManifest.DefaultChunkSize} need 2 hashes; 1 given).");
        (await VerifyManifestAsync(Template() with { Files = [new FixFile("bin/app.dll", FixFileAction.Add, FixManifest.DefaultChunkSize, hash, [hash, hash])] })).Sentence.Should()
            .Be($"Entry 'bin/app.dll' has inconsistent length and chunk hashes ({FixManifest.DefaultChunkSize} bytes in chunks of {FixManifest.DefaultChunkSize} need 1 hashes; 2 given).");
        foreach (FixFile incomplete in new[] { new FixFile("bin/app.dll", FixFileAction.Add, 1, null!, [hash]), new FixFile(null!, FixFileAction.Add, 1, hash, [hash]), new FixFile("bin/app.dll", FixFileAction.Add, 1, hash, null!) })
        {
            (await VerifyManifestAsync(Template() with { Files = [incomplete] })).Sentence.Should()
                .Be("The manifest lists an entry without its path, hashes or chunk hashes.");
        }
    }
}
