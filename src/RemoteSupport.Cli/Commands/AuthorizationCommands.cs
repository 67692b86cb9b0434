using System.CommandLine;
using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport authorize</c> and <c>rsupport revoke</c>: the customer's signed authorization of the vendor, and its end.</summary>
internal static class AuthorizationCommands
{
    public static Command BuildAuthorize(CliConsole console)
    {
        Option<string> key = Opt.Required("--key", "The customer's key file (role customer): it signs the authorization.");
        Option<string> id = Opt.Required("--id", "The authorization's id (e.g. auth-2026-12).");
        Option<string> vendor = Opt.Required("--vendor", "The vendor authorized (e.g. contoso).");
        Option<string[]> technicians = Opt.Many("--technician", "A technician key the vendor may use: a key file or ed25519:… text (repeat for several).");
        Option<string[]> units = Opt.Many("--unit", "A unit the vendor may support (repeat for several).");
        Option<string> rules = Opt.Required("--rules", "The signed ground rules the authorization rests on.");
        Option<string?> from = Opt.Optional("--valid-from", "When it starts (ISO 8601 with an offset; default: now).");
        Option<string?> until = Opt.Optional("--valid-until", "When it ends (ISO 8601 with an offset).");
        Option<int?> days = new("--days") { Description = "Or: how many days from its start it lasts." };
        Option<string> output = Opt.Required("--out", "The signed authorization to write.");
        Command command = Opt.Command(
            "authorize",
            "Authorize a vendor's technicians to support units under signed ground rules (the customer signs).",
            "rsupport authorize --key customer.key --id auth-2026-12 --vendor contoso --technician technician.key --unit unit-7 --rules rules.json --days 30 --out authorization.json", key, id, vendor, technicians, units, rules, from, until, days, output);

        var passphrase = new PassphraseOptions(command, "opens the customer's key");
        command.Validators.Add(result =>
        {
            if ((result.GetValue(until) is null) == (result.GetValue(days) is null))
            {
                result.AddError("Give how long it lasts: --valid-until or --days (one of them).");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            string rulesPath = parse.GetValue(rules)!;
            (SignedEnvelope rulesEnvelope, SecurityGroundRules groundRules) = await Files.ReadDocumentAsync(
                rulesPath, SecurityGroundRules.DocumentType, SecurityGroundRules.FromEnvelope, cancellationToken).ConfigureAwait(false);
            var keys = new List<string>();
            foreach (string technician in parse.GetValue(technicians)!)
            {
                keys.Add((await Keys.PublicKeyAsync(technician, cancellationToken).ConfigureAwait(false)).ToString());
            }

            using PartyIdentity customer = await Keys.LoadAsync(parse.GetValue(key)!, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            RequireRole(customer, PartyRole.Customer, parse.GetValue(key)!);
            if (groundRules.CustomerId != customer.PartyId || groundRules.VendorId != parse.GetValue(vendor))
            {
                throw new CliException(ExitCode.Refused,
                    $"{rulesPath}: these ground rules are between {groundRules.CustomerId} and {groundRules.VendorId}, not {customer.PartyId} and {parse.GetValue(vendor)}.");
            }

            DateTimeOffset validFrom = Opt.Instant(parse, from) ?? console.Clock.GetUtcNow();
            DateTimeOffset validUntil = Opt.Instant(parse, until) ?? validFrom.AddDays(parse.GetValue(days)!.Value);
            if (validUntil <= validFrom)
            {
                throw new CliException(ExitCode.Usage, $"The authorization would end ({validUntil:O}) before it starts ({validFrom:O}).");
            }

            var authorization = new ServiceAuthorization
            {
                AuthorizationId = parse.GetValue(id)!, CustomerId = customer.PartyId, VendorId = parse.GetValue(vendor)!,
                VendorKeys = keys, Units = [.. parse.GetValue(units)!], ValidFrom = validFrom, ValidUntil = validUntil,
                GroundRulesHash = SecurityGroundRules.DocumentHash(rulesEnvelope),
            };
            SignedEnvelope signed = Build(authorization.ToEnvelope).Sign(customer);
            string path = parse.GetValue(output)!;
            await Files.WriteEnvelopeAsync(path, signed, cancellationToken).ConfigureAwait(false);
            return console.Done(Describe(new Report(), authorization).Field("file", "written to", path));
        });
        return command;
    }

    public static Command BuildRevoke(CliConsole console)
    {
        Option<string> key = Opt.Required("--key", "The customer's key file (role customer): it signs the revocation.");
        Option<string> id = Opt.Required("--id", "The id of the authorization revoked.");
        Option<string> reason = Opt.Required("--reason", "Why (recorded in the unit's audit journal).");
        Option<string> output = Opt.Required("--out", "The signed revocation to write.");
        Command command = Opt.Command(
            "revoke",
            "Revoke an authorization (the customer signs); a unit that accepts it refuses the vendor from then on, across restarts.",
            "rsupport revoke --key customer.key --id auth-2026-12 --reason \"contract ended\" --out revocation.json", key, id, reason, output);

        var passphrase = new PassphraseOptions(command, "opens the customer's key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            using PartyIdentity customer = await Keys.LoadAsync(parse.GetValue(key)!, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            RequireRole(customer, PartyRole.Customer, parse.GetValue(key)!);
            var revocation = new AuthorizationRevocation { AuthorizationId = parse.GetValue(id)!, CustomerId = customer.PartyId, Reason = parse.GetValue(reason)! };
            SignedEnvelope signed = Build(revocation.ToEnvelope).Sign(customer);
            string path = parse.GetValue(output)!;
            await Files.WriteEnvelopeAsync(path, signed, cancellationToken).ConfigureAwait(false);
            return console.Done(new Report()
                .Field("authorizationId", "authorization", revocation.AuthorizationId)
                .Field("customerId", "customer", revocation.CustomerId)
                .Field("reason", "reason", revocation.Reason)
                .Field("file", "written to", path));
        });
        return command;
    }

    public static Report Describe(Report report, ServiceAuthorization authorization) => report
        .Field("authorizationId", "authorization", authorization.AuthorizationId)
        .Field("customerId", "customer", authorization.CustomerId)
        .Field("vendorId", "vendor", authorization.VendorId)
        .Field("vendorKeys", "technician keys", new System.Text.Json.Nodes.JsonArray([.. authorization.VendorKeys.Select(k => (System.Text.Json.Nodes.JsonNode)PartyKey.Parse(k).KeyId)]))
        .Field("units", "units", new System.Text.Json.Nodes.JsonArray([.. authorization.Units.Select(u => (System.Text.Json.Nodes.JsonNode)u)]))
        .Field("validFrom", "valid from", authorization.ValidFrom.ToString("O"))
        .Field("validUntil", "valid until", authorization.ValidUntil.ToString("O"))
        .Field("groundRulesHash", "ground rules", authorization.GroundRulesHash);

    /// <summary>Refuses a key of another role than the document needs.</summary>
    public static void RequireRole(PartyIdentity identity, PartyRole role, string path)
    {
        if (identity.Role != role)
        {
            throw new CliException(ExitCode.Refused, $"{path}: a key of {identity.PartyId}/{Roles.Name(identity.Role)}; this document is signed by {("aeiou".Contains(Roles.Name(role)[0], StringComparison.Ordinal) ? "an" : "a")} {Roles.Name(role)} key.");
        }
    }

    /// <summary>Builds a document, a field the library refuses named as a usage error.</summary>
    public static SignedEnvelope Build(Func<SignedEnvelope> build)
    {
        try
        {
            return build();
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCode.Usage, CliConsole.Sentence(e.Message), e);
        }
    }
}
