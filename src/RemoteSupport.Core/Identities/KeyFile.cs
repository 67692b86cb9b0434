using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NSec.Cryptography;

namespace RemoteSupport.Identities;

/// <summary>
/// Saves and loads <see cref="PartyIdentity"/> private keys (format in docs/formats/keys.md, version 1).
/// </summary>
/// <remarks>
/// The file is created readable and writable by its owner only (mode 0600 on Unix) and loading
/// refuses a file that others can read. With a passphrase the private key is sealed with
/// XChaCha20-Poly1305 under a key derived by Argon2id; the party, role and public key are bound as
/// associated data, so editing them makes the file fail to open.
/// </remarks>
public static class KeyFile
{
    /// <summary>The format identifier written in every key file.</summary>
    public const string FormatName = "remotesupport.key";

    /// <summary>The format version this library writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The largest key file accepted, in bytes.</summary>
    public const int MaxFileBytes = 16 * 1024;

    internal const int MinArgon2MemoryKiB = 8 * 1024;
    internal const int MaxArgon2MemoryKiB = 1024 * 1024;
    internal const int MaxArgon2Passes = 16;
    private const int SaltLength = 16;

    /// <summary>Writes <paramref name="identity"/> to a new file at <paramref name="path"/>.</summary>
    /// <exception cref="KeyFileException">A file already exists at <paramref name="path"/>.</exception>
    public static async Task SaveAsync(
        PartyIdentity identity, string path, KeyFileOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new KeyFileOptions();
        if (options.Argon2MemoryKiB is < MinArgon2MemoryKiB or > MaxArgon2MemoryKiB)
        {
            Error.ArgumentOutOfRange(nameof(options), $"Argon2MemoryKiB must be within [{MinArgon2MemoryKiB}, {MaxArgon2MemoryKiB}].");
        }

        if (options.Argon2Passes is < 1 or > MaxArgon2Passes)
        {
            Error.ArgumentOutOfRange(nameof(options), $"Argon2Passes must be within [1, {MaxArgon2Passes}].");
        }

        string fullPath = Path.GetFullPath(path);
        if (File.Exists(fullPath))
        {
            throw new KeyFileException(KeyFileError.AlreadyExists, $"A file already exists at '{fullPath}'; a key file is never overwritten.");
        }

        byte[] content = Serialize(identity, options);
        try
        {
            // Owner-only from the first byte; never over an existing file (a key file is never overwritten).
            await DurableFile.WriteAsync(fullPath, content, overwrite: false, UnixFileMode.UserRead | UnixFileMode.UserWrite, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>Loads the identity saved at <paramref name="path"/>.</summary>
    /// <param name="path">The key file.</param>
    /// <param name="passphrase">The passphrase, when the key is sealed.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="KeyFileException">The file is malformed, needs a (different) passphrase, or others can read it.</exception>
    public static async Task<PartyIdentity> LoadAsync(string path, string? passphrase = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode = File.GetUnixFileMode(fullPath);
            const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & Others) != 0)
            {
                throw new KeyFileException(
                    KeyFileError.InsecurePermissions,
                    $"Key file '{fullPath}' can be accessed by other users (mode {Convert.ToString((int)mode, 8)}); restrict it to its owner (0600).");
            }
        }

        FileStream stream = new(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            if (stream.Length > MaxFileBytes)
            {
                throw Malformed($"the file is {stream.Length} bytes, more than the {MaxFileBytes} a key file may have");
            }

            byte[] content = new byte[stream.Length];
            await stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            try
            {
                return Deserialize(content, passphrase);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(content);
            }
        }
    }

    internal static byte[] Serialize(PartyIdentity identity, KeyFileOptions options)
    {
        byte[] privateKey = identity.ExportPrivateKey();
        try
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("format", FormatName);
                json.WriteNumber("version", FormatVersion);
                json.WriteString("party", identity.PartyId);
                json.WriteString("role", identity.Role.ToText());
                json.WriteString("publicKey", identity.PublicKey.ToString());
                if (options.Passphrase is null)
                {
                    json.WriteString("privateKey", Base64Url.EncodeToString(privateKey));
                }
                else
                {
                    byte[] salt = RandomNumberGenerator.GetBytes(SaltLength);
                    AeadAlgorithm aead = AeadAlgorithm.XChaCha20Poly1305;
                    byte[] nonce = RandomNumberGenerator.GetBytes(aead.NonceSize);
                    using Key sealingKey = DeriveSealingKey(options.Passphrase, salt, options.Argon2MemoryKiB, options.Argon2Passes);
                    byte[] ciphertext = aead.Encrypt(sealingKey, nonce, AssociatedData(identity.PartyId, identity.Role.ToText(), identity.PublicKey.ToString()), privateKey);
                    json.WriteStartObject("sealed");
                    json.WriteString("kdf", "argon2id");
                    json.WriteNumber("memoryKiB", options.Argon2MemoryKiB);
                    json.WriteNumber("passes", options.Argon2Passes);
                    json.WriteNumber("parallelism", 1);
                    json.WriteString("salt", Base64Url.EncodeToString(salt));
                    json.WriteString("cipher", "xchacha20-poly1305");
                    json.WriteString("nonce", Base64Url.EncodeToString(nonce));
                    json.WriteString("ciphertext", Base64Url.EncodeToString(ciphertext));
                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            buffer.WriteByte((byte)'\n');
            return buffer.ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    internal static PartyIdentity Deserialize(ReadOnlySpan<byte> content, string? passphrase)
    {
        if (!System.Text.Unicode.Utf8.IsValid(content))
        {
            throw Malformed("it is not valid UTF-8"); // JsonElement.GetString would throw InvalidOperationException (found by fuzzing)
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(content, new JsonReaderOptions { MaxDepth = 4 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw Malformed("it is not valid JSON", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Malformed("the top level is not a JSON object");
            }

            if (GetString(root, "format") != FormatName)
            {
                throw Malformed($"'format' is not '{FormatName}'");
            }

            if (!root.TryGetProperty("version", out JsonElement version) || version.ValueKind != JsonValueKind.Number
                || !version.TryGetInt32(out int versionNumber) || versionNumber != FormatVersion)
            {
                throw Malformed($"'version' is not {FormatVersion}");
            }

            string party = GetString(root, "party") ?? throw Malformed("'party' is missing");
            string roleText = GetString(root, "role") ?? throw Malformed("'role' is missing");
            if (!PartyRoleNames.TryParse(roleText, out PartyRole role))
            {
                throw Malformed($"'role' is '{roleText}', not a party role");
            }

            string publicKeyText = GetString(root, "publicKey") ?? throw Malformed("'publicKey' is missing");
            if (!PartyKey.TryParse(publicKeyText, out PartyKey? publicKey))
            {
                throw Malformed("'publicKey' is not a public key in text form");
            }

            byte[] privateKey;
            if (root.TryGetProperty("sealed", out JsonElement sealedElement))
            {
                if (passphrase is null)
                {
                    throw new KeyFileException(KeyFileError.PassphraseRequired, $"The key of '{party}' ({roleText}) is sealed; a passphrase is required.");
                }

                privateKey = Unseal(sealedElement, passphrase, AssociatedData(party, roleText, publicKeyText));
            }
            else
            {
                privateKey = DecodeField(root, "privateKey", 32);
            }

            try
            {
                PartyIdentity identity;
                try
                {
                    identity = PartyIdentity.FromPrivateKey(party, role, privateKey);
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    throw Malformed("'privateKey' is not an Ed25519 private key", ex);
                }

                if (!identity.PublicKey.Equals(publicKey))
                {
                    identity.Dispose();
                    throw Malformed("the private key does not match 'publicKey'");
                }

                return identity;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(privateKey);
            }
        }
    }

    private static byte[] Unseal(JsonElement sealedElement, string passphrase, byte[] associatedData)
    {
        if (sealedElement.ValueKind != JsonValueKind.Object || GetString(sealedElement, "kdf") != "argon2id"
            || GetString(sealedElement, "cipher") != "xchacha20-poly1305")
        {
            throw Malformed("'sealed' must name kdf 'argon2id' and cipher 'xchacha20-poly1305'");
        }

        int memory = GetBoundedInt(sealedElement, "memoryKiB", MinArgon2MemoryKiB, MaxArgon2MemoryKiB);
        int passes = GetBoundedInt(sealedElement, "passes", 1, MaxArgon2Passes);
        _ = GetBoundedInt(sealedElement, "parallelism", 1, 1);
        AeadAlgorithm aead = AeadAlgorithm.XChaCha20Poly1305;
        byte[] salt = DecodeField(sealedElement, "salt", SaltLength);
        byte[] nonce = DecodeField(sealedElement, "nonce", aead.NonceSize);
        byte[] ciphertext = DecodeField(sealedElement, "ciphertext", 32 + aead.TagSize);
        using Key sealingKey = DeriveSealingKey(passphrase, salt, memory, passes);
        return aead.Decrypt(sealingKey, nonce, associatedData, ciphertext)
            ?? throw new KeyFileException(KeyFileError.WrongPassphrase, "The passphrase is wrong, or the sealed key file was altered.");
    }

    private static Key DeriveSealingKey(string passphrase, byte[] salt, int memoryKiB, int passes)
    {
        var parameters = new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = memoryKiB, NumberOfPasses = passes };
        return PasswordBasedKeyDerivationAlgorithm.Argon2id(in parameters)
            .DeriveKey(passphrase, salt, AeadAlgorithm.XChaCha20Poly1305);
    }

    private static byte[] AssociatedData(string party, string role, string publicKey) =>
        Encoding.UTF8.GetBytes($"{FormatName}/{FormatVersion}\n{party}\n{role}\n{publicKey}");

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int GetBoundedInt(JsonElement element, string name, int min, int max)
    {
        if (element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number
            && value.TryGetInt32(out int number) && number >= min && number <= max)
        {
            return number;
        }

        throw Malformed($"'{name}' must be a whole number within [{min}, {max}]");
    }

    private static byte[] DecodeField(JsonElement element, string name, int expectedLength)
    {
        string text = GetString(element, name) ?? throw Malformed($"'{name}' is missing");
        byte[] bytes = new byte[expectedLength];
        if (Base64Url.DecodeFromChars(text, bytes, out int consumed, out int written) != System.Buffers.OperationStatus.Done
            || consumed != text.Length || written != expectedLength)
        {
            throw Malformed($"'{name}' is not {expectedLength} bytes of base64url");
        }

        return bytes;
    }

    private static KeyFileException Malformed(string what, Exception? inner = null) =>
        new(KeyFileError.Malformed, $"Not a usable key file: {what}.", inner);
}
