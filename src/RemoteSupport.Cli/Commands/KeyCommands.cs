using System.CommandLine;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport key new</c> and <c>rsupport key show</c>.</summary>
internal static class KeyCommands
{
    public static Command Build(CliConsole console)
    {
        var key = new Command("key", "Create a party's key file and show a key's text form, key id and fingerprint.");
        key.Subcommands.Add(BuildNew(console));
        key.Subcommands.Add(BuildShow(console));
        return key;
    }

    private static Command BuildNew(CliConsole console)
    {
        Option<string> party = Opt.Required("--party", "The party the key belongs to (e.g. fabrikam).");
        Option<string> role = Opt.Required("--role", $"The party's role: {string.Join(", ", Roles.Names)}.");
        Option<string> output = Opt.Required("--out", "The key file to write (mode 0600; an existing file is never overwritten).");
        Command command = Opt.Command(
            "new",
            "Create an Ed25519 key for a party in a role and write its key file. Without a passphrase option the key file is written unsealed.",
            "rsupport key new --party fabrikam --role customer --out customer.key --passphrase-env CUSTOMER_PASSPHRASE", party, role, output);
        var passphrase = new PassphraseOptions(command, "seals the key file");
        command.SetAction(async (parse, cancellationToken) =>
        {
            PartyRole partyRole = Roles.Parse(parse.GetValue(role)!);
            string path = parse.GetValue(output)!;
            string? secret = passphrase.Read(parse, console);
            using PartyIdentity identity = CreateIdentity(parse.GetValue(party)!, partyRole);
            try
            {
                await KeyFile.SaveAsync(identity, path, new KeyFileOptions { Passphrase = secret }, cancellationToken).ConfigureAwait(false);
            }
            catch (KeyFileException e) when (e.Error == KeyFileError.AlreadyExists)
            {
                throw new CliException(ExitCode.IO, $"{path}: a file is already there; a key file is never overwritten.", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ExitCode.IO, $"{path}: cannot write the key file ({CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
            }

            return console.Done(Describe(new Report(), identity.PartyId, identity.Role, identity.PublicKey, secret is not null).Data("file", path));
        });
        return command;
    }

    private static Command BuildShow(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The key file (its public part is read; no passphrase is needed).");
        Command command = Opt.Command("show", "Show a key file's party, role, public key text, key id and fingerprint.", "rsupport key show customer.key", file);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            PublicKeyFile key = await Keys.ReadPublicAsync(path, cancellationToken).ConfigureAwait(false);
            return console.Done(Describe(new Report(), key.Party, key.Role, key.Key, key.Sealed).Data("file", path));
        });
        return command;
    }

    private static PartyIdentity CreateIdentity(string party, PartyRole role)
    {
        try
        {
            return PartyIdentity.Create(party, role);
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCode.Usage, $"--party '{party}': {CliConsole.Sentence(e.Message)}", e);
        }
    }

    private static Report Describe(Report report, string party, PartyRole role, PartyKey key, bool sealedFile) => report
        .Field("party", "party", party)
        .Field("role", "role", Roles.Name(role))
        .Field("publicKey", "public key", key.ToString())
        .Field("keyId", "key id", key.KeyId)
        .Field("fingerprint", "fingerprint", key.Fingerprint)
        .Field("sealed", "sealed", sealedFile);
}
