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
            "rsupport approve request.json --key approver.key --out approval.json", request, key, output, yes, uses);
        var passphrase = new PassphraseOptions(command, "opens the approver's key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(request)!;
            ApprovalRequest read = await ReadRequestAsync(path, cancellationToken).ConfigureAwait(false);
            string keyPath = parse.GetValue(key)!;
            string? secret = passphrase.Read(parse, console);
            if (!parse.GetValue(yes) && !Ask(console, read))
            {
                var refused = new Report().Field("requestId", "request", read.RequestId).Field("signed", "signed", false).Field("textHash", "text sha256", read.TextHash);
                refused.Refusal = $"{path}: not approved (the answer was not y); nothing was written.";
                return console.Done(refused, ExitCode.Refused);
            }

            if (parse.GetValue(yes))
            {
                Show(console, read);
            }

            using PartyIdentity approver = await Keys.LoadAsync(keyPath, secret, cancellationToken).ConfigureAwait(false);
            AuthorizationCommands.RequireRole(approver, PartyRole.Approver, keyPath);
            (Approval approval, SignedEnvelope signed) = Sign(read, approver, parse.GetValue(uses), console.Clock.GetUtcNow());
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

    /// <summary>Prints the request's canonical text (on stderr with --json, so stdout keeps its one object).</summary>
    private static TextWriter Show(CliConsole console, ApprovalRequest request)
    {
        TextWriter show = console.IsJson ? console.Error : console.Out;
        show.WriteLine(request.RenderText());
        return show;
    }

    /// <summary>Prints the text and asks y/N on stdin; an end of input is a no.</summary>
    private static bool Ask(CliConsole console, ApprovalRequest request) => Ask(console, request, out _);

    private static bool Ask(CliConsole console, ApprovalRequest request, out bool endOfInput)
    {
        TextWriter show = Show(console, request);
        show.Write("Sign this written approval? [y/N] ");
        show.Flush();
        string? answer = console.In.ReadLine();
        show.WriteLine();
        endOfInput = answer is null;
        return answer?.Trim() is "y" or "Y" or "yes" or "YES" or "Yes";
    }

    private static (Approval, SignedEnvelope) Sign(ApprovalRequest request, PartyIdentity approver, int uses, DateTimeOffset now)
    {
        Approval approval = Approval.For(request, now, uses);
        return (approval, AuthorizationCommands.Build(approval.ToEnvelope).Sign(approver));
    }

    public static Command BuildApprovals(CliConsole console)
    {
        var approvals = new Command("approvals", "The customer's approval desk for a running agent (the approval folder of docs/formats/approvals.md).");
        approvals.Subcommands.Add(BuildWatch(console));
        return approvals;
    }

    private static Command BuildWatch(CliConsole console)
    {
        Option<string> state = Opt.Required("--state", "The unit's state folder (the agent's StateFolder); its approvals/ folder is watched.");
        Option<string> key = Opt.Required("--key", "The approver's key file (role approver): it signs each approval.");
        Option<bool> once = new("--once") { Description = "Answer the requests pending now and stop (default: watch until Ctrl+C or the end of input)." };
        Option<int> uses = new("--uses") { Description = "How many operations each approval allows (default 1).", DefaultValueFactory = _ => 1 };
        Command command = Opt.Command(
            "watch", "Show each request a running agent waits on as it arrives, with its canonical text; y signs the approval, anything else refuses it.",
            "rsupport approvals watch --state /var/lib/remotesupport --key approver.key --passphrase-env APPROVER_PASSPHRASE", state, key, once, uses);
        var passphrase = new PassphraseOptions(command, "opens the approver's key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string keyPath = parse.GetValue(key)!;
            using PartyIdentity approver = await Keys.LoadAsync(keyPath, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            AuthorizationCommands.RequireRole(approver, PartyRole.Approver, keyPath);
            var desk = new ApprovalDesk(ApprovalFolder.InStateFolder(parse.GetValue(state)!));
            // A desk run as a service is stopped with SIGTERM: stop watching and report, as on Ctrl+C.
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, signal =>
            {
                signal.Cancel = true;
                stopping.Cancel();
            });
            cancellationToken = stopping.Token;
            TextWriter notes = console.IsJson ? console.Error : console.Out;
            if (!parse.GetValue(once))
            {
                notes.WriteLine($"Watching {desk.Folder} for approval requests (Ctrl+C stops).");
            }

            var answers = new List<IReadOnlyList<string?>>();
            var reported = new HashSet<string>(StringComparer.Ordinal);
            bool endOfInput = false;
            try
            {
                while (!endOfInput)
                {
                    foreach (PendingApproval pending in await desk.PendingAsync(cancellationToken).ConfigureAwait(false))
                    {
                        if (pending.Request is not { } request)
                        {
                            if (reported.Add(pending.File))
                            {
                                console.Error.WriteLine($"rsupport: {pending.File}: {CliConsole.Sentence(pending.Problem!)}");
                            }

                            continue;
                        }

                        bool yes = Ask(console, request, out endOfInput);
                        if (endOfInput)
                        {
                            break; // no one is left to answer: the request stays pending
                        }

                        bool delivered = yes
                            ? await desk.ApproveAsync(request, Sign(request, approver, parse.GetValue(uses), console.Clock.GetUtcNow()).Item2, cancellationToken).ConfigureAwait(false)
                            : await desk.RefuseAsync(request, console.Clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                        string answer = yes ? "approved" : "refused";
                        notes.WriteLine(delivered ? $"{request.RequestId}: {answer}." : $"{request.RequestId}: {answer}, but the unit no longer waits on it.");
                        answers.Add([request.RequestId, answer, delivered ? "true" : "false", request.TextHash]);
                    }

                    if (parse.GetValue(once))
                    {
                        break;
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C: stop watching, report what was answered.
            }

            return console.Done(new Report()
                .Table("answers", "Answers", [("requestId", "request"), ("answer", "answer"), ("delivered", "delivered"), ("textHash", "text sha256")], answers)
                .Field("folder", "folder", desk.Folder));
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
