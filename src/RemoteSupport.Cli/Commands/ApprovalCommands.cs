using System.CommandLine;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport approve</c>: the customer's written approval of one request, after reading its canonical text.</summary>
internal static class ApprovalCommands
{
    public static Command BuildApprove(CliConsole console)
    {
        Argument<string> request = Opt.File("REQUEST", "The approval request a unit exported (its JSON, docs/formats/approvals.md).");
        Option<string> key = Opt.Required("--key", "The approver's key file (role approver).");
        Option<string> output = Opt.Required("--out", "The signed approval to write (give it back to the unit).");
        Option<bool> yes = new("--yes") { Description = "Sign without asking (the text is still printed)." };
        Option<int> uses = new("--uses") { Description = "How many operations the approval allows (default 1).", DefaultValueFactory = _ => 1 };
        Command command = Opt.Command(
            "approve",
            "Print a request's canonical approval text, ask y/N (unless --yes), and write the signed written approval.",
            "rsupport approve request.json --key approver.key --out approval.json");
        command.Arguments.Add(request);
        command.Options.Add(key);
        command.Options.Add(output);
        command.Options.Add(yes);
        command.Options.Add(uses);
        var passphrase = new PassphraseOptions(command, "opens the approver's key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(request)!;
            ApprovalRequest read = await ReadRequestAsync(path, cancellationToken).ConfigureAwait(false);
            string keyPath = parse.GetValue(key)!;
            string? secret = passphrase.Read(parse, console);
            string text = read.RenderText();
            TextWriter show = console.IsJson ? console.Error : console.Out;
            show.WriteLine(text);
            if (!parse.GetValue(yes))
            {
                show.Write("Sign this written approval? [y/N] ");
                show.Flush();
                string? answer = console.In.ReadLine();
                show.WriteLine();
                if (answer?.Trim() is not ("y" or "Y" or "yes" or "YES" or "Yes"))
                {
                    var refused = new Report().Field("requestId", "request", read.RequestId).Field("signed", "signed", false).Field("textHash", "text sha256", read.TextHash);
                    refused.Refusal = $"{path}: not approved (the answer was not y); nothing was written.";
                    return console.Done(refused, ExitCode.Refused);
                }
            }

            using PartyIdentity approver = await Keys.LoadAsync(keyPath, secret, cancellationToken).ConfigureAwait(false);
            AuthorizationCommands.RequireRole(approver, PartyRole.Approver, keyPath);
            Approval approval = Approval.For(read, DateTimeOffset.UtcNow, parse.GetValue(uses));
            SignedEnvelope signed = AuthorizationCommands.Build(approval.ToEnvelope).Sign(approver);
            string target = parse.GetValue(output)!;
            await Files.WriteEnvelopeAsync(target, signed, cancellationToken).ConfigureAwait(false);
            return console.Done(new Report()
                .Field("requestId", "request", read.RequestId)
                .Field("approvalId", "approval", approval.ApprovalId)
                .Field("signed", "signed", true)
                .Field("approver", "approver", $"{approver.PartyId}/{approver.PublicKey.KeyId}")
                .Field("textHash", "text sha256", read.TextHash)
                .Field("validUntil", "valid until", approval.ValidUntil.ToString("O"))
                .Field("file", "written to", target));
        });
        return command;
    }

    public static async Task<ApprovalRequest> ReadRequestAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content = await Files.ReadDocumentAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return ApprovalRequest.FromJson(System.Text.Encoding.UTF8.GetString(content));
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or ArgumentException)
        {
            throw new CliException(ExitCode.IO, $"{path}: not an approval request ({CliConsole.Sentence(e.Message).TrimEnd('.')}).", e);
        }
    }
}
