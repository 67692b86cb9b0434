using System.CommandLine;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport spec</c>: the vendor's communications compatibility specification, in writing.</summary>
internal static class SpecCommand
{
    public static Command Build(CliConsole console)
    {
        Argument<string?> file = new("FILE") { Description = "A specification the vendor delivered (signed or its JSON); without it, describe this version's own.", Arity = ArgumentArity.ZeroOrOne };
        Option<string> format = new("--format") { Description = "markdown, text or json.", DefaultValueFactory = _ => "markdown" };
        format.AcceptOnlyFromAmong("markdown", "text", "json");
        Option<string?> vendor = Opt.Optional("--vendor", "The vendor the specification is of (needed without FILE).");
        Option<string[]> endpoints = Opt.Many("--endpoint", "An endpoint, HOST:PORT (repeat; the unit dials the console over TCP).", required: false);
        Option<long> bandwidth = new("--min-bandwidth") { Description = "The line's minimum bandwidth in bit/s (default 64000).", DefaultValueFactory = _ => 64_000 };
        Option<int> rtt = new("--max-rtt") { Description = "The line's maximum round trip in ms (default 800).", DefaultValueFactory = _ => 800 };
        Option<string?> key = Opt.Optional("--key", "The vendor's key file: sign the specification and write it with --out.");
        Option<string?> output = Opt.Optional("--out", "Write the signed specification here (with --key).");
        Command command = Opt.Command(
            "spec", "Print the communications compatibility specification (protocol versions, cipher suites, limits, endpoints, line) as Markdown, text or JSON.",
            "rsupport spec --vendor contoso --endpoint support.contoso.example:7443 --format markdown", file, format, vendor, endpoints, bandwidth, rtt, key, output);

        var passphrase = new PassphraseOptions(command, "opens the vendor's key");
        command.Validators.Add(result =>
        {
            if (result.GetValue(file) is null && result.GetValue(vendor) is null)
            {
                result.AddError("Give a specification FILE, or --vendor to describe this version's own.");
            }

            if ((result.GetValue(key) is null) != (result.GetValue(output) is null))
            {
                result.AddError("--key and --out go together: the signed specification is written to --out.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            CompatibilitySpecification spec = parse.GetValue(file) is { } path
                ? await ReadAsync(path, cancellationToken).ConfigureAwait(false)
                : Describe(parse.GetValue(vendor)!, parse.GetValue(endpoints) ?? [], new LineRequirements(parse.GetValue(bandwidth), parse.GetValue(rtt)));
            var report = new Report();
            if (parse.GetValue(key) is { } keyPath)
            {
                using PartyIdentity signer = await Keys.LoadAsync(keyPath, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
                AuthorizationCommands.RequireRole(signer, PartyRole.Vendor, keyPath);
                await Files.WriteEnvelopeAsync(parse.GetValue(output)!, spec.ToEnvelope().Sign(signer), cancellationToken).ConfigureAwait(false);
                report.Data("file", parse.GetValue(output));
            }

            string kind = parse.GetValue(format)!;
            string content = kind switch { "json" => spec.ToJson(), "text" => spec.ToText(), _ => spec.ToMarkdown() };
            if (console.IsJson)
            {
                return console.Done(report.Data("format", kind).Data("vendorId", spec.VendorId).Data("content", content));
            }

            console.Out.WriteLine(content.TrimEnd());
            return (int)ExitCode.Ok;
        });
        return command;
    }

    private static CompatibilitySpecification Describe(string vendor, string[] endpoints, LineRequirements line)
    {
        var listed = new List<CompatibilityEndpoint>();
        foreach (string endpoint in endpoints)
        {
            int colon = endpoint.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), out int port) || port is < 1 or > 65535)
            {
                throw new CliException(ExitCode.Usage, $"--endpoint '{endpoint}' is not HOST:PORT.");
            }

            listed.Add(new CompatibilityEndpoint("tcp", endpoint[..colon], port, "unit dials console"));
        }

        return CompatibilitySpecification.Describe(vendor, new SupportConnectionOptions { Secure = new SecureChannelOptions() }, listed, line);
    }

    private static async Task<CompatibilitySpecification> ReadAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content = await Files.ReadDocumentAsync(path, cancellationToken).ConfigureAwait(false);
        if (SignedEnvelope.TryParse(content, out SignedEnvelope? envelope, out _))
        {
            return Files.Parse(path, envelope!, CompatibilitySpecification.DocumentType, CompatibilitySpecification.FromEnvelope);
        }

        try
        {
            return CompatibilitySpecification.FromJson(System.Text.Encoding.UTF8.GetString(content));
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or ArgumentException)
        {
            throw new CliException(ExitCode.IO, $"{path}: not a compatibility specification ({CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
        }
    }
}
