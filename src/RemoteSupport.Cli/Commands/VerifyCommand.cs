using System.CommandLine;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Evidence;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport verify</c>: any signed document, journal export with its checkpoint, statement or evidence bundle, against a trust file.</summary>
internal static class VerifyCommand
{
    public static Command Build(CliConsole console)
    {
        Argument<string[]> files = new("FILE") { Description = "Signed documents, journal exports (with --checkpoint), statements or evidence bundle folders.", Arity = ArgumentArity.OneOrMore };
        Option<string> trust = Opt.Required("--trust", "The trust file: the keys you hold for the parties (never a key from the artifact).");
        Option<string?> checkpoint = Opt.Optional("--checkpoint", "For a journal export: the signed checkpoint note it must give.");
        Option<string?> keyName = Opt.Optional("--key-name", "For a journal export: the checkpoint's key name (e.g. fabrikam/unit-7).");
        Option<string?> csv = Opt.Optional("--csv", "For a statement whose lines are beside it: the CSV of its lines.");
        Command command = Opt.Command(
            "verify", "Verify artifacts offline against your trust file; every finding names the artifact and the reason.",
            "rsupport verify statement.json evidence-2026-11/ --trust auditor.trust", files, trust, checkpoint, keyName, csv);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string trustPath = parse.GetValue(trust)!;
            TrustFile file = await TrustFile.ReadAsync(trustPath, cancellationToken).ConfigureAwait(false);
            TrustStore store = await TrustFile.LoadAsync(trustPath, null, cancellationToken).ConfigureAwait(false);
            var context = new Context(file, store, parse.GetValue(checkpoint), parse.GetValue(keyName), parse.GetValue(csv), console.Clock.GetUtcNow());
            var findings = new List<IReadOnlyList<string?>>();
            foreach (string path in parse.GetValue(files)!)
            {
                foreach ((string artifact, string kind, string? problem) in await VerifyAsync(path, context, cancellationToken).ConfigureAwait(false))
                {
                    findings.Add([artifact, kind, problem is null ? "valid" : "refused", problem]);
                }
            }

            var report = new Report().Table("findings", "Verification", [("artifact", "artifact"), ("kind", "kind"), ("result", "result"), ("reason", "reason")], findings);
            int refused = findings.Count(f => f[2] != "valid");
            report.Field("valid", "all valid", refused == 0);
            report.Refusal = refused == 0 ? null : $"{refused} of {findings.Count} findings refused: {findings.First(f => f[2] != "valid")[0]}: {findings.First(f => f[2] != "valid")[3]}";
            return console.Done(report, refused == 0 ? ExitCode.Ok : ExitCode.Refused);
        });
        return command;
    }

    private sealed record Context(TrustFile File, TrustStore Store, string? Checkpoint, string? KeyName, string? Csv, DateTimeOffset Now);

    private static async Task<List<(string, string, string?)>> VerifyAsync(string path, Context context, CancellationToken cancellationToken)
    {
        if (Directory.Exists(path))
        {
            EvidenceVerification bundle = await EvidenceVerifier.VerifyAsync(path, context.Store, cancellationToken).ConfigureAwait(false);
            return bundle.IsValid
                ? [(path, "evidence bundle", null)]
                : [.. bundle.Findings.Select(f => (Path.Combine(path, f.Artifact), "evidence bundle", (string?)$"{f.Reason}: {CliConsole.Sentence(f.Sentence)}"))];
        }

        byte[] content = await Files.ReadDocumentHeadAsync(path, cancellationToken).ConfigureAwait(false);
        if (content.Length > 0 && content[0] == (byte)'{')
        {
            SignedEnvelope envelope = await Files.ReadEnvelopeAsync(path, cancellationToken).ConfigureAwait(false);
            (string kind, string? problem) = await VerifyDocumentAsync(path, envelope, context, cancellationToken).ConfigureAwait(false);
            return [(path, kind, problem)];
        }

        return [(path, "journal export", await VerifyJournalAsync(path, context, cancellationToken).ConfigureAwait(false))];
    }

    private static async Task<(string Kind, string? Problem)> VerifyDocumentAsync(string path, SignedEnvelope envelope, Context context, CancellationToken cancellationToken)
    {
        string kind = Files.Describe(envelope.PayloadType);
        string payload = envelope.PayloadType;
        if (payload == SecurityGroundRules.DocumentType.PayloadType)
        {
            SecurityGroundRules rules = Files.Parse(path, envelope, SecurityGroundRules.DocumentType, SecurityGroundRules.FromEnvelope);
            return (kind, Problem(context.Store.Verify(envelope, RulesCommands.Policy(rules))));
        }

        if (payload == ServiceAuthorization.DocumentType.PayloadType)
        {
            ServiceAuthorization authorization = Files.Parse(path, envelope, ServiceAuthorization.DocumentType, ServiceAuthorization.FromEnvelope);
            return (kind, Problem(context.Store.Verify(envelope, new SignaturePolicy(ServiceAuthorization.DocumentType, new SignatureRequirement(authorization.CustomerId, PartyRole.Customer)))));
        }

        if (payload == AuthorizationRevocation.DocumentType.PayloadType)
        {
            AuthorizationRevocation revocation = Files.Parse(path, envelope, AuthorizationRevocation.DocumentType, AuthorizationRevocation.FromEnvelope);
            return (kind, Problem(context.Store.Verify(envelope, new SignaturePolicy(AuthorizationRevocation.DocumentType, new SignatureRequirement(revocation.CustomerId, PartyRole.Customer)))));
        }

        if (payload == MonthlyStatement.DocumentType.PayloadType)
        {
            MonthlyStatement statement = Files.Parse(path, envelope, MonthlyStatement.DocumentType, MonthlyStatement.FromEnvelope);
            string? problem = AnyParty(context, PartyRole.Vendor, MonthlyStatement.DocumentType, envelope);
            if (problem is null && context.Csv is { } csv)
            {
                problem = await StatementCommands.CheckCsvAsync(statement, csv, cancellationToken).ConfigureAwait(false);
            }
            else if (problem is null && !statement.LinesInline)
            {
                problem = $"its {statement.LineCount} lines are in a CSV beside it; give it with --csv to check them.";
            }

            return (kind, problem);
        }

        if (payload == VendorRoot.DocumentType.PayloadType)
        {
            VendorRoot root = Files.Parse(path, envelope, VendorRoot.DocumentType, VendorRoot.FromEnvelope);
            try
            {
                _ = new FixTrust(envelope);
            }
            catch (ArgumentException e)
            {
                return (kind, CliConsole.Sentence(e.Message));
            }

            if (root.Expires <= context.Now)
            {
                return (kind, $"the root expired at {root.Expires:O}.");
            }

            return (kind, AnyParty(context, PartyRole.Vendor, VendorRoot.DocumentType, envelope, root.VendorId, threshold: root.Threshold));
        }

        if (payload == SessionReceipt.DocumentType.PayloadType)
        {
            SessionReceipt receipt = Files.Parse(path, envelope, SessionReceipt.DocumentType, SessionReceipt.FromEnvelope);
            return (kind, Problem(context.Store.Verify(envelope, new SignaturePolicy(SessionReceipt.DocumentType, new SignatureRequirement(receipt.CustomerId, PartyRole.Unit)))));
        }

        DocumentType? other = new[] { Approval.DocumentType, InstallReceipt.DocumentType, CompatibilitySpecification.DocumentType }.FirstOrDefault(t => t.PayloadType == payload);
        if (other is not null)
        {
            PartyRole role = other == Approval.DocumentType ? PartyRole.Approver : other == InstallReceipt.DocumentType ? PartyRole.Unit : PartyRole.Vendor;
            return (kind, AnyParty(context, role, other, envelope));
        }

        return (kind, $"rsupport does not verify a {kind} on its own" + (payload == EvidenceManifest.DocumentType.PayloadType ? "; verify the bundle's folder." : "."));
    }

    /// <summary>Valid when some party's key set in the role (or the named party's) signs to its threshold.</summary>
    private static string? AnyParty(Context context, PartyRole role, DocumentType type, SignedEnvelope envelope, string? party = null, int? threshold = null)
    {
        string roleName = Roles.Name(role);
        string? first = null;
        foreach (TrustFileKeySet set in context.File.KeySets.Where(s => s.Role == roleName && (party is null || s.PartyId == party)))
        {
            VerificationResult result = context.Store.Verify(envelope, new SignaturePolicy(type, new SignatureRequirement(set.PartyId, role, threshold)));
            if (result.IsValid)
            {
                return null;
            }

            first ??= Problem(result);
        }

        return first ?? $"the trust file holds no {(party is null ? string.Empty : party + "/")}{roleName} key to check it with.";
    }

    private static string? Problem(VerificationResult result) => result.IsValid ? null : CliConsole.Sentence(result.Sentence);

    private static async Task<string?> VerifyJournalAsync(string path, Context context, CancellationToken cancellationToken)
    {
        if (context.Checkpoint is null || context.KeyName is null)
        {
            return "a journal export needs its signed checkpoint (--checkpoint) and the checkpoint's key name (--key-name).";
        }

        byte[] note = await Files.ReadDocumentAsync(context.Checkpoint, cancellationToken).ConfigureAwait(false);
        string noteText = System.Text.Encoding.UTF8.GetString(note);
        string? first = null;
        foreach (string key in context.File.KeySets.SelectMany(s => s.Keys).Distinct())
        {
            JournalVerification verification = await JournalVerifier.VerifyAsync(path, noteText, context.KeyName, PartyKey.Parse(key), cancellationToken).ConfigureAwait(false);
            if (verification.IsValid)
            {
                return null;
            }

            if (verification.Reason != JournalVerificationFailure.BadCheckpoint)
            {
                return $"{verification.RecordCount} records: {CliConsole.Sentence(verification.Sentence)}";
            }

            first ??= CliConsole.Sentence(verification.Sentence);
        }

        return first ?? "the trust file holds no key to check the checkpoint with.";
    }
}
