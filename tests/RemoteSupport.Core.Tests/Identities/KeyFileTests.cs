using System.Text.Json.Nodes;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Identities;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class KeyFileTests : IDisposable
{
    // Low Argon2id cost keeps the suite fast; the format records the cost, so loading uses it.
    private static readonly KeyFileOptions Cheap = new() { Argon2MemoryKiB = 8192, Argon2Passes = 1 };
    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Plain_RoundTrip_SignsWithTheSameKey()
    {
        using var identity = PartyIdentity.Create("contoso", PartyRole.Technician);
        string path = _folder.File("tech.key");
        await KeyFile.SaveAsync(identity, path);

        using PartyIdentity loaded = await KeyFile.LoadAsync(path);

        loaded.PartyId.Should().Be("contoso");
        loaded.Role.Should().Be(PartyRole.Technician);
        loaded.PublicKey.Should().Be(identity.PublicKey);
        identity.PublicKey.Verify("x"u8, loaded.Sign("x"u8)).Should().BeTrue();
    }

    [Fact]
    public async Task Save_CreatesFileReadableOnlyByOwner()
    {
        using var identity = PartyIdentity.Create("contoso", PartyRole.Vendor);
        string path = _folder.File("vendor.key");
        await KeyFile.SaveAsync(identity, path);

        File.GetUnixFileMode(path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.GetFiles(_folder.Path).Should().ContainSingle("no temporary file is left behind");
    }

    [Fact]
    public async Task Sealed_RoundTrip_WithPassphrase()
    {
        using var identity = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        string path = _folder.File("customer.key");
        await KeyFile.SaveAsync(identity, path, new KeyFileOptions { Passphrase = "correct horse battery staple", Argon2MemoryKiB = 8192, Argon2Passes = 1 });

        string text = await File.ReadAllTextAsync(path);
        text.Should().Contain("\"sealed\"").And.NotContain("privateKey");
        using PartyIdentity loaded = await KeyFile.LoadAsync(path, "correct horse battery staple");
        loaded.PublicKey.Should().Be(identity.PublicKey);
        identity.PublicKey.Verify("y"u8, loaded.Sign("y"u8)).Should().BeTrue();
    }

    [Fact]
    public async Task Sealed_WrongPassphrase_IsRefused()
    {
        string path = await SaveSealed("right");

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path, "wrong")).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.WrongPassphrase);
    }

    [Fact]
    public async Task Sealed_NoPassphrase_IsRefused()
    {
        string path = await SaveSealed("right");

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path)).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.PassphraseRequired);
    }

    [Fact]
    public async Task Sealed_EditedPartyName_FailsToOpen()
    {
        string path = await SaveSealed("right");
        JsonNode json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["party"] = "mallory";
        await File.WriteAllTextAsync(path, json.ToJsonString());

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path, "right")).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.WrongPassphrase);
    }

    [Fact]
    public async Task Plain_PublicKeyNotMatchingPrivateKey_IsMalformed()
    {
        using var identity = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var other = PartyIdentity.Create("contoso", PartyRole.Vendor);
        string path = _folder.File("v.key");
        await KeyFile.SaveAsync(identity, path);
        JsonNode json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["publicKey"] = other.PublicKey.ToString();
        await File.WriteAllTextAsync(path, json.ToJsonString());

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path)).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.Malformed);
        error.Which.Message.Should().Contain("does not match");
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"format\":\"remotesupport.key\",\"version\":2}")]
    [InlineData("{\"format\":\"other\",\"version\":1}")]
    public async Task Garbage_IsMalformed(string content)
    {
        string path = _folder.File("garbage.key");
        await File.WriteAllTextAsync(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path)).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.Malformed);
    }

    [Fact]
    public async Task AStringThatIsNotUtf8_IsMalformed_NotAnInvalidOperation()
    {
        // Found by fuzzing: JsonElement.GetString threw InvalidOperationException on the lone byte 0xFF in "format".
        string path = _folder.File("latin1.key");
        await File.WriteAllBytesAsync(path, System.Text.Encoding.Latin1.GetBytes("{\"format\":\"remotesupport.key\u00ff\",\"version\":1}"));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path)).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.Malformed);
        error.Which.Message.Should().Be("Not a usable key file: it is not valid UTF-8.");
    }

    [Fact]
    public async Task Sealed_HugeArgon2Cost_IsRefusedBeforeDeriving()
    {
        string path = await SaveSealed("right");
        JsonNode json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["sealed"]!["memoryKiB"] = 64 * 1024 * 1024;
        await File.WriteAllTextAsync(path, json.ToJsonString());

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path, "right")).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.Malformed);
        error.Which.Message.Should().Contain("memoryKiB");
    }

    [Fact]
    public async Task FileReadableByOthers_IsRefused()
    {
        using var identity = PartyIdentity.Create("contoso", PartyRole.Vendor);
        string path = _folder.File("open.key");
        await KeyFile.SaveAsync(identity, path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var error = await FluentActions.Awaiting(() => KeyFile.LoadAsync(path)).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.InsecurePermissions);
    }

    [Fact]
    public async Task Save_ExistingFile_IsNeverOverwritten()
    {
        using var identity = PartyIdentity.Create("contoso", PartyRole.Vendor);
        string path = _folder.File("exists.key");
        await File.WriteAllTextAsync(path, "keep me");

        var error = await FluentActions.Awaiting(() => KeyFile.SaveAsync(identity, path)).Should().ThrowAsync<KeyFileException>();
        error.Which.Error.Should().Be(KeyFileError.AlreadyExists);
        (await File.ReadAllTextAsync(path)).Should().Be("keep me");
    }

    private async Task<string> SaveSealed(string passphrase)
    {
        using var identity = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        string path = _folder.File(Guid.NewGuid().ToString("N") + ".key");
        await KeyFile.SaveAsync(identity, path, new KeyFileOptions { Passphrase = passphrase, Argon2MemoryKiB = Cheap.Argon2MemoryKiB, Argon2Passes = Cheap.Argon2Passes });
        return path;
    }
}
