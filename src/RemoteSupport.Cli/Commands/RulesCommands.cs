using System.CommandLine;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport rules show</c> and <c>rsupport rules sign</c>: the jointly signed security ground rules.</summary>
internal static class RulesCommands
{
    public static Command Build(CliConsole console)
    {
        var rules = new Command("rules", "Show and co-sign the security ground rules (valid only when the customer and the vendor have both signed).");
        rules.Subcommands.Add(BuildShow(console));
        rules.Subcommands.Add(BuildSign(console));
        return rules;
    }

    private static Command BuildShow(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The ground rules: a signed document, or a draft (the ground rules' JSON, docs/formats/ground-rules.md).");
        Option<string?> trust = Opt.Optional("--trust", "A trust file holding the parties' keys, to name who signed.");
        Command command = Opt.Command("show", "Show the ground rules, who has signed them and who still must.", "rsupport rules show rules.json --trust auditor.trust", file, trust);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            (SignedEnvelope envelope, SecurityGroundRules rules) = await ReadAsync(path, cancellationToken).ConfigureAwait(false);
            TrustStore store = await Signatures.TrustWithAsync(parse.GetValue(trust), null, cancellationToken).ConfigureAwait(false);
            return console.Done(Describe(envelope, rules, store, parse.GetValue(trust) is null ? "no --trust given" : null));
        });
        return command;
    }

    private static Command BuildSign(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The ground rules to sign: a draft (their JSON) or a document another party has signed.");
        Option<string> key = Opt.Required("--key", "Your key file: the customer's (role customer) or the vendor's (role vendor).");
        Option<string?> output = Opt.Optional("--out", "Where to write the signed ground rules (default: FILE itself when it is a signed document).");
        Option<string?> trust = Opt.Optional("--trust", "A trust file holding the other party's keys, to check its signature.");
        Command command = Opt.Command(
            "sign", "Sign the ground rules as the customer or the vendor, and show what is still missing.",
            "rsupport rules sign rules-draft.json --key customer.key --out rules.json", file, key, output, trust);
        var passphrase = new PassphraseOptions(command, "opens your key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            (SignedEnvelope envelope, SecurityGroundRules rules) = await ReadAsync(path, cancellationToken).ConfigureAwait(false);
            string keyPath = parse.GetValue(key)!;
            using PartyIdentity signer = await Keys.LoadAsync(keyPath, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            bool isParty = (signer.Role == PartyRole.Customer && signer.PartyId == rules.CustomerId) || (signer.Role == PartyRole.Vendor && signer.PartyId == rules.VendorId);
            if (!isParty)
            {
                throw new CliException(ExitCode.Refused,
                    $"{keyPath}: a key of {signer.PartyId}/{Roles.Name(signer.Role)}; these ground rules are signed by {rules.CustomerId}/customer and {rules.VendorId}/vendor.");
            }

            if (envelope.Signatures.Any(s => s.KeyId == signer.PublicKey.KeyId))
            {
                throw new CliException(ExitCode.Refused, $"{path}: already signed with this key ({signer.PublicKey.KeyId}).");
            }

            SignedEnvelope signed = envelope.Sign(signer);
            string? target = parse.GetValue(output) ?? (envelope.Signatures.Count > 0 ? path : null);
            if (target is null)
            {
                throw new CliException(ExitCode.Usage, $"{path} is a draft; give --out for the signed ground rules.");
            }

            await Files.WriteEnvelopeAsync(target, signed, cancellationToken).ConfigureAwait(false);
            TrustStore store = await Signatures.TrustWithAsync(parse.GetValue(trust), signer, cancellationToken).ConfigureAwait(false);
            return console.Done(Describe(signed, rules, store, parse.GetValue(trust) is null ? "no --trust given" : null).Field("file", "written to", target));
        });
        return command;
    }

    public static SignaturePolicy Policy(SecurityGroundRules rules) => new(
        SecurityGroundRules.DocumentType,
        new SignatureRequirement(rules.CustomerId, PartyRole.Customer),
        new SignatureRequirement(rules.VendorId, PartyRole.Vendor));

    private static Report Describe(SignedEnvelope envelope, SecurityGroundRules rules, TrustStore trust, string? trustHint)
    {
        var report = new Report()
            .Field("customerId", "customer", rules.CustomerId)
            .Field("vendorId", "vendor", rules.VendorId)
            .Field("version", "version", rules.Version)
            .Field("timeZone", "time zone", rules.TimeZone)
            .Field("hours", "service hours", $"{string.Join(",", rules.Hours.Days.Select(d => d.ToString()[..3]))} {rules.Hours.From}-{rules.Hours.To}")
            .Field("operations", "operations", string.Join("; ", rules.Operations.Select(o =>
                $"{o.Operation}: {(o.Permitted ? (o.Approval is null ? "permitted" : "with approval of " + string.Join(", ", o.Approval.Groups.Select(g => $"{g.Quorum} of {g.Name}"))) : "not permitted")}")))
            .Field("dataScopes", "data scopes", string.Join("; ", rules.DataScopes.Select(s => $"{s.Root}: {string.Join(" ", s.PathPatterns)} (owner {s.Owner})")))
            .Field("tollCharges", "toll charges", $"{rules.TollCharges.Currency} setup {rules.TollCharges.SetupFeeMinor}, {rules.TollCharges.PerMinuteMinor}/min, monthly cap {rules.TollCharges.MonthlyCapMinor} (minor units)")
            .Field("hash", "document hash", SecurityGroundRules.DocumentHash(envelope));
        VerificationResult result = Signatures.Check(envelope, trust, Policy(rules));
        Signatures.Describe(report, envelope, result, trustHint);
        return report.Field("valid", "signed by both", result.IsValid);
    }

    /// <summary>Reads signed ground rules, or a draft (their JSON) as an unsigned document in the library's own encoding.</summary>
    internal static async Task<(SignedEnvelope, SecurityGroundRules)> ReadAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content = await Files.ReadDocumentAsync(path, cancellationToken).ConfigureAwait(false);
        if (SignedEnvelope.TryParse(content, out SignedEnvelope? parsed, out _))
        {
            return (parsed!, Files.Parse(path, parsed!, SecurityGroundRules.DocumentType, SecurityGroundRules.FromEnvelope));
        }

        SecurityGroundRules draft = Files.Parse(path, SignedEnvelope.Create(SecurityGroundRules.DocumentType, content), SecurityGroundRules.DocumentType, SecurityGroundRules.FromEnvelope);
        return (AuthorizationCommands.Build(draft.ToEnvelope), draft);
    }
}
