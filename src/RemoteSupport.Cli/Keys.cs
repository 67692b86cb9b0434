using System.Text.Json;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli;

/// <summary>Key files: loading an identity (sealed or not), and the public part of a key file without its passphrase.</summary>
internal static class Keys
{
    public static async Task<PartyIdentity> LoadAsync(string path, string? passphrase, CancellationToken cancellationToken)
    {
        try
        {
            return await KeyFile.LoadAsync(path, passphrase, cancellationToken).ConfigureAwait(false);
        }
        catch (KeyFileException e)
        {
            (ExitCode code, string sentence) = e.Error switch
            {
                KeyFileError.PassphraseRequired => (ExitCode.Refused, "the key is sealed; give its passphrase with --passphrase-file, --passphrase-env or --passphrase-stdin."),
                KeyFileError.WrongPassphrase => (ExitCode.Refused, "the passphrase is wrong, or the sealed key file was altered."),
                KeyFileError.InsecurePermissions => (ExitCode.Refused, "group or others can read the key file; make it private (chmod 600) and try again."),
                _ => (ExitCode.IO, $"not a key file ({CliConsole.Sentence(e.Message).TrimEnd('.')})."),
            };
            throw new CliException(code, $"{path}: {sentence}", e);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException(ExitCode.IO, $"{path}: there is no such key file.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCode.IO, $"{path}: {CliConsole.Sentence(e.Message)}", e);
        }
    }

    public static async Task<List<PartyIdentity>> LoadAllAsync(IReadOnlyList<string> paths, string? passphrase, CancellationToken cancellationToken)
    {
        var identities = new List<PartyIdentity>();
        try
        {
            foreach (string path in paths)
            {
                identities.Add(await LoadAsync(path, passphrase, cancellationToken).ConfigureAwait(false));
            }

            return identities;
        }
        catch
        {
            identities.ForEach(i => i.Dispose());
            throw;
        }
    }

    /// <summary>The party, role and public key a key file names (docs/formats/keys.md), read without its passphrase.</summary>
    public static async Task<PublicKeyFile> ReadPublicAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content = await Files.ReadDocumentAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            using JsonDocument document = JsonDocument.Parse(content);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Text(root, "format") != KeyFile.FormatName)
            {
                throw new CliException(ExitCode.IO, $"{path}: not a key file (its format is not '{KeyFile.FormatName}').");
            }

            string party = Text(root, "party") ?? throw Missing(path, "party");
            PartyRole role = Roles.Parse(Text(root, "role") ?? throw Missing(path, "role"), path);
            string keyText = Text(root, "publicKey") ?? throw Missing(path, "publicKey");
            if (!PartyKey.TryParse(keyText, out PartyKey? key))
            {
                throw new CliException(ExitCode.IO, $"{path}: its publicKey is not an ed25519 key.");
            }

            return new PublicKeyFile(party, role, key!, root.TryGetProperty("sealed", out _));
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCode.IO, $"{path}: not a key file (not JSON: {CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
        }
    }

    /// <summary>A key given as text (<c>ed25519:…</c>) or as a key file whose public key is taken.</summary>
    public static async Task<PartyKey> PublicKeyAsync(string keyOrFile, CancellationToken cancellationToken)
    {
        if (keyOrFile.StartsWith("ed25519:", StringComparison.Ordinal))
        {
            return PartyKey.TryParse(keyOrFile, out PartyKey? key)
                ? key!
                : throw new CliException(ExitCode.Usage, $"'{keyOrFile}' is not an ed25519 public key (ed25519: and 43 base64url characters).");
        }

        return (await ReadPublicAsync(keyOrFile, cancellationToken).ConfigureAwait(false)).Key;
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static CliException Missing(string path, string name) => new(ExitCode.IO, $"{path}: not a key file (it has no '{name}').");
}

/// <summary>The public part of a key file.</summary>
internal sealed record PublicKeyFile(string Party, PartyRole Role, PartyKey Key, bool Sealed);

/// <summary>Role names as the formats write them.</summary>
internal static class Roles
{
    public static readonly string[] Names = ["vendor", "customer", "unit", "technician", "approver"];

    public static PartyRole Parse(string text, string? path = null) => text switch
    {
        "vendor" => PartyRole.Vendor,
        "customer" => PartyRole.Customer,
        "unit" => PartyRole.Unit,
        "technician" => PartyRole.Technician,
        "approver" => PartyRole.Approver,
        _ => throw new CliException(path is null ? ExitCode.Usage : ExitCode.IO,
            $"{(path is null ? string.Empty : path + ": ")}'{text}' is not a role (one of {string.Join(", ", Names)})."),
    };

    public static string Name(PartyRole role) => role switch
    {
        PartyRole.Vendor => "vendor",
        PartyRole.Customer => "customer",
        PartyRole.Unit => "unit",
        PartyRole.Technician => "technician",
        PartyRole.Approver => "approver",
        _ => role.ToString().ToLowerInvariant(),
    };
}
