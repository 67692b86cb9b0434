using System.CommandLine;
using System.Security.Cryptography;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport statement issue|show|export</c>: the itemized monthly statement of toll charges.</summary>
internal static class StatementCommands
{
    public static Command Build(CliConsole console)
    {
        var statement = new Command("statement", "Issue the itemized monthly statement from a ledger, show it, export it as CSV, JSON or text.");
        statement.Subcommands.Add(BuildIssue(console));
        statement.Subcommands.Add(BuildShow(console));
        statement.Subcommands.Add(BuildExport(console));
        return statement;
    }

    private static Command BuildIssue(CliConsole console)
    {
        Option<string> customer = Opt.Required("--customer", "The customer billed.");
        Option<string> month = Opt.Required("--month", "The billing month, YYYY-MM.");
        Option<string> zone = Opt.Required("--time-zone", "The IANA time zone the month is counted in (the ground rules' zone, e.g. Europe/Berlin).");
        Option<string> key = Opt.Required("--key", "The vendor's key file (role vendor): it signs the statement and the ledger checkpoint.");
        Option<string> origin = Opt.Required("--ledger-origin", "The ledger checkpoint's origin (e.g. fabrikam.example/unit-7/ledger).");
        Option<string> output = Opt.Required("--out", "The signed statement to write.");
        Option<string?> csv = Opt.Optional("--csv", "Also write the lines as CSV here (the statement names its SHA-256).");
        Command command = Opt.Command(
            "issue", "Issue the next numbered statement of a customer's month from a ledger journal, signed by the vendor.",
            "rsupport statement issue --ledger ledger.journal --statements statements.journal --customer fabrikam --month 2026-11 --time-zone Europe/Berlin --key vendor.key --ledger-origin fabrikam/unit-7/ledger --out statement.json", customer, month, zone, key, origin, output, csv);
        var books = new Books(command, withStatements: true, existingLedger: true);

        var passphrase = new PassphraseOptions(command, "opens the vendor's key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!NodaTime.Text.YearMonthPattern.Iso.Parse(parse.GetValue(month)!).TryGetValue(default, out NodaTime.YearMonth yearMonth))
            {
                throw new CliException(ExitCode.Usage, $"--month '{parse.GetValue(month)}' is not a month (YYYY-MM).");
            }

            using PartyIdentity vendor = await Keys.LoadAsync(parse.GetValue(key)!, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            AuthorizationCommands.RequireRole(vendor, PartyRole.Vendor, parse.GetValue(key)!);
            await using OpenBooks open = await books.OpenAsync(parse, parse.GetValue(customer)!, cancellationToken).ConfigureAwait(false);
            IRecordJournal ledgerJournal = open.Ledger;
            using StatementIssuer issuer = await StatementIssuer.OpenAsync(open.Statements!, cancellationToken: cancellationToken).ConfigureAwait(false);
            string checkpoint = new Checkpoint(parse.GetValue(origin)!, ledgerJournal.Count, ledgerJournal.Root()).Sign($"{vendor.PartyId}-billing", vendor);
            string? csvPath = parse.GetValue(csv);
            string? csvTemporary = csvPath is null ? null : csvPath + ".partial";
            SignedEnvelope signed;
            try
            {
                await using (FileStream? lines = csvTemporary is null ? null : new FileStream(csvTemporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                {
                    signed = await issuer.IssueAsync(ledgerJournal, parse.GetValue(customer)!, yearMonth, parse.GetValue(zone)!, checkpoint, vendor, lines, cancellationToken).ConfigureAwait(false);
                    lines?.Flush(flushToDisk: true);
                }
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCode.Usage, CliConsole.Sentence(e.Message), e);
            }
            catch (InvalidOperationException e)
            {
                // The month has not ended, or was issued already: the issuer's refusal, nothing was issued.
                TryDelete(csvTemporary);
                throw new CliException(ExitCode.Refused, CliConsole.Sentence(e.Message), e);
            }

            if (csvTemporary is not null)
            {
                File.Move(csvTemporary, csvPath!, overwrite: true);
            }

            string path = parse.GetValue(output)!;
            await Files.WriteEnvelopeAsync(path, signed, cancellationToken).ConfigureAwait(false);
            return console.Done(Describe(new Report(), MonthlyStatement.FromEnvelope(signed)).Field("file", "written to", path));
        });
        return command;
    }

    private static Command BuildShow(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The signed statement.");
        Command command = Opt.Command("show", "Show a statement's number, period, totals and lines.", "rsupport statement show statement.json", file);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            (_, MonthlyStatement statement) = await Files.ReadDocumentAsync(path, MonthlyStatement.DocumentType, MonthlyStatement.FromEnvelope, cancellationToken).ConfigureAwait(false);
            Report report = Describe(new Report(), statement);
            report.Table("lines", "Lines", [("date", "date"), ("session", "session"), ("unit", "unit"), ("kind", "kind"), ("description", "description"), ("amount", "amount"), ("entry", "entry")],
                statement.Lines.Select(l => (IReadOnlyList<string?>)[l.Date, l.SessionId, l.UnitId, LedgerCommands.KindName(l.Kind), l.Description, $"{l.Currency} {Money.Format(l.AmountMinor, l.Currency)}", l.EntryId]));
            return console.Done(report);
        });
        return command;
    }

    private static Command BuildExport(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The signed statement.");
        Option<string> format = new("--format") { Description = "csv (the lines, as the statement hashes them), json (the statement's document) or text.", Required = true };
        format.AcceptOnlyFromAmong("csv", "json", "text");
        Option<string?> output = Opt.Optional("--out", "Write here instead of stdout.");
        Command command = Opt.Command("export", "Export a statement as CSV, JSON or text.", "rsupport statement export statement.json --format csv --out november.csv", file, format, output);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            (_, MonthlyStatement statement) = await Files.ReadDocumentAsync(path, MonthlyStatement.DocumentType, MonthlyStatement.FromEnvelope, cancellationToken).ConfigureAwait(false);
            string kind = parse.GetValue(format)!;
            if (kind == "csv" && !statement.LinesInline)
            {
                throw new CliException(ExitCode.Refused, $"{path}: its {statement.LineCount} lines are in the CSV issued beside it, not in the statement.");
            }

            string content = kind switch { "csv" => statement.ToCsv(), "json" => statement.ToJson(), _ => statement.ToText() };
            if (parse.GetValue(output) is { } target)
            {
                await Files.WriteTextAsync(target, content, cancellationToken).ConfigureAwait(false);
                return console.Done(new Report().Field("format", "format", kind).Field("file", "written to", target));
            }

            if (console.IsJson)
            {
                return console.Done(new Report().Data("format", kind).Data("content", content));
            }

            console.Out.Write(content);
            return (int)ExitCode.Ok;
        });
        return command;
    }

    private static void TryDelete(string? path)
    {
        if (path is not null)
        {
            File.Delete(path);
        }
    }

    public static Report Describe(Report report, MonthlyStatement statement) => report
        .Field("number", "statement", statement.Number)
        .Field("customerId", "customer", statement.CustomerId)
        .Field("month", "month", statement.Month)
        .Field("period", "period", $"{statement.PeriodStart:O} to {statement.PeriodEnd:O} ({statement.TimeZone})")
        .Field("lineCount", "lines", statement.LineCount)
        .Field("totals", "totals", string.Join(", ", statement.Totals.Select(t => $"{t.Key} {Money.Format(t.Value, t.Key)}")))
        .Field("linesSha256", "lines sha256", statement.LinesSha256)
        .Field("ledgerSize", "ledger records", statement.LedgerSize)
        .Field("issuedAt", "issued", statement.IssuedAt.ToString("O"));

    /// <summary>Whether a CSV file is the one a statement names (its SHA-256 and line count).</summary>
    public static async Task<string?> CheckCsvAsync(MonthlyStatement statement, string csvPath, CancellationToken cancellationToken)
    {
        byte[] hash;
        try
        {
            await using var stream = new FileStream(csvPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException(ExitCode.IO, $"{csvPath}: there is no such file.", e);
        }

        return Convert.ToHexStringLower(hash) == statement.LinesSha256 ? null : $"{csvPath}: not the lines of statement {statement.Number} (its SHA-256 differs from the statement's linesSha256).";
    }
}
