using System.CommandLine;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport trust add</c> and <c>rsupport trust show</c>: the keys a verifier trusts, as a file.</summary>
internal static class TrustCommands
{
    public static Command Build(CliConsole console)
    {
        var trust = new Command("trust", "Keep the keys you trust in a trust file (docs/formats/trust-file.md), for verify, rules and statements.");
        trust.Subcommands.Add(BuildAdd(console));
        trust.Subcommands.Add(BuildShow(console));
        return trust;
    }

    private static Command BuildAdd(CliConsole console)
    {
        Option<string> file = Opt.Required("--trust", "The trust file to add to (created when it does not exist).");
        Argument<string[]> keys = new("KEY") { Description = "Key files (their public part) or public keys as text (ed25519:…).", Arity = ArgumentArity.OneOrMore };
        Option<string?> party = Opt.Optional("--party", "The party the keys belong to (taken from a key file when not given).");
        Option<string?> role = Opt.Optional("--role", "The keys' role (taken from a key file when not given).");
        Option<int?> threshold = new("--threshold") { Description = "How many of the set's keys must sign (default: the set's, 1 for a new set)." };
        Command command = Opt.Command("add", "Trust keys of a party in a role.", "rsupport trust add --trust auditor.trust customer.key vendor.key", file, keys, party, role, threshold);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            TrustFile trust = File.Exists(path) ? await TrustFile.ReadAsync(path, cancellationToken).ConfigureAwait(false) : TrustFile.Empty;
            var added = new List<IReadOnlyList<string?>>();
            foreach (string key in parse.GetValue(keys)!)
            {
                string? partyId = parse.GetValue(party);
                PartyRole? partyRole = parse.GetValue(role) is { } r ? Roles.Parse(r) : null;
                PartyKey publicKey;
                if (key.StartsWith("ed25519:", StringComparison.Ordinal))
                {
                    publicKey = await Keys.PublicKeyAsync(key, cancellationToken).ConfigureAwait(false);
                    if (partyId is null || partyRole is null)
                    {
                        throw new CliException(ExitCode.Usage, $"A key given as text needs --party and --role ({key}).");
                    }
                }
                else
                {
                    PublicKeyFile keyFile = await Keys.ReadPublicAsync(key, cancellationToken).ConfigureAwait(false);
                    publicKey = keyFile.Key;
                    partyId ??= keyFile.Party;
                    partyRole ??= keyFile.Role;
                }

                trust = trust.With(partyId, partyRole.Value, publicKey, parse.GetValue(threshold));
                added.Add([partyId, Roles.Name(partyRole.Value), publicKey.KeyId, publicKey.Fingerprint]);
            }

            TrustFileKeySet? over = trust.KeySets.FirstOrDefault(s => s.Threshold > s.Keys.Count);
            if (over is not null)
            {
                throw new CliException(ExitCode.Usage, $"--threshold {over.Threshold} is more than the {over.Keys.Count} keys of {over.PartyId}/{over.Role}.");
            }

            await trust.WriteAsync(path, cancellationToken).ConfigureAwait(false);
            return console.Done(new Report()
                .Table("added", $"Trusted in {path}", [("party", "party"), ("role", "role"), ("keyId", "key id"), ("fingerprint", "fingerprint")], added)
                .Data("file", path));
        });
        return command;
    }

    private static Command BuildShow(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The trust file.");
        Command command = Opt.Command("show", "List the key sets of a trust file.", "rsupport trust show auditor.trust", file);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            TrustFile trust = await TrustFile.ReadAsync(path, cancellationToken).ConfigureAwait(false);
            IEnumerable<IReadOnlyList<string?>> rows = trust.KeySets.SelectMany(set => set.Keys.Select(k =>
            {
                PartyKey key = PartyKey.Parse(k);
                return (IReadOnlyList<string?>)[set.PartyId, set.Role, $"{set.Threshold} of {set.Keys.Count}", key.KeyId, key.Fingerprint];
            }));
            return console.Done(new Report().Table(
                "keys", path, [("party", "party"), ("role", "role"), ("threshold", "threshold"), ("keyId", "key id"), ("fingerprint", "fingerprint")], rows));
        });
        return command;
    }
}
