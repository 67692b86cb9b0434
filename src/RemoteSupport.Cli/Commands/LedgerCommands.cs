using System.CommandLine;
using System.Globalization;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Trust;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport ledger charge</c>: the billing clerk enters a toll charge (a carrier's call record) into the ledger.</summary>
internal static class LedgerCommands
{
    public static Command Build(CliConsole console)
    {
        var ledger = new Command("ledger", "Enter toll charges into a customer's charge ledger (a file journal) under the ground rules in force.");
        ledger.Subcommands.Add(BuildCharge(console));
        return ledger;
    }

    private static Command BuildCharge(CliConsole console)
    {
        Option<string> rules = Opt.Required("--rules", "The ground rules in force, signed by the customer and the vendor (their caps and policy apply).");
        Option<string> trust = Opt.Required("--trust", "The trust file holding the customer's and the vendor's keys, to check the ground rules.");
        Option<string> unit = Opt.Required("--unit", "The unit the charge is for.");
        Option<string> session = Opt.Required("--session", "The session the charge is for.");
        Option<string> kind = new("--kind") { Description = "call-setup, connect-time, data-volume or other.", Required = true };
        kind.AcceptOnlyFromAmong([.. Kinds.Select(KindName)]);
        Option<string> quantity = Opt.Required("--quantity", "The quantity (seconds, calls, bytes …), a decimal number.");
        Option<string> quantityUnit = Opt.Required("--quantity-unit", "The quantity's unit, e.g. second or call.");
        Option<string> rate = Opt.Required("--rate", "The rate in minor units per quantity unit (may be fractional); the amount is quantity × rate, rounded half to even.");
        Option<string?> incurred = new("--incurred-at") { Description = "When the charge was incurred, ISO 8601 with an offset.", Required = true };
        Option<string> description = Opt.Required("--description", "The statement line's description.");
        Option<string?> evidence = Opt.Optional("--evidence", "The evidence: the carrier's call record id or an invoice's hash.");
        Option<string?> key = Opt.Optional("--idempotency-key", "Makes the entry idempotent (default: the evidence, else unit/session/kind/incurred-at).");
        Command command = Opt.Command(
            "charge", "Record one charge in the customer's ledger; the same idempotency key with the same content records nothing new.",
            "rsupport ledger charge --ledger ledger.journal --rules rules.json --trust parties.trust --unit unit-7 --session s-1 --kind connect-time --quantity 600 --quantity-unit second --rate 0.25 --incurred-at 2026-11-14T10:00:00Z --description \"Call to unit-7\" --evidence carrier-4711", rules, trust, unit, session, kind, quantity, quantityUnit, rate, incurred, description, evidence, key);

        var books = new Books(command, withStatements: false, existingLedger: false);
        command.SetAction(async (parse, cancellationToken) =>
        {
            decimal quantityValue = Number(parse, quantity);
            decimal rateValue = Number(parse, rate);
            DateTimeOffset at = Opt.Instant(parse, incurred)!.Value;
            string rulesPath = parse.GetValue(rules)!;
            (SignedEnvelope rulesEnvelope, SecurityGroundRules groundRules) = await RulesCommands.ReadAsync(rulesPath, cancellationToken).ConfigureAwait(false);
            TrustStore store = await Signatures.TrustWithAsync(parse.GetValue(trust), null, cancellationToken).ConfigureAwait(false);
            var book = new GroundRulesBook(store) { CustomerId = groundRules.CustomerId };
            DocumentAcceptance accepted = book.Accept(rulesEnvelope);
            if (!accepted.IsAccepted)
            {
                throw new CliException(ExitCode.Refused, $"{rulesPath}: {CliConsole.Sentence(accepted.Sentence)}");
            }

            ChargeKind chargeKind = Kinds.Single(k => KindName(k) == parse.GetValue(kind)); // --kind accepts only these names
            string? evidenceReference = parse.GetValue(evidence);
            var request = new ChargeRequest
            {
                IdempotencyKey = parse.GetValue(key) ?? evidenceReference ?? $"{parse.GetValue(unit)}/{parse.GetValue(session)}/{parse.GetValue(kind)}/{at:O}",
                CustomerId = groundRules.CustomerId,
                UnitId = parse.GetValue(unit)!,
                SessionId = parse.GetValue(session)!,
                Kind = chargeKind,
                Quantity = quantityValue,
                QuantityUnit = parse.GetValue(quantityUnit)!,
                Rate = rateValue,
                AmountMinor = (long)Math.Round(quantityValue * rateValue, MidpointRounding.ToEven),
                Currency = groundRules.TollCharges.Currency,
                IncurredAt = at,
                Description = parse.GetValue(description)!,
                EvidenceReference = evidenceReference,
            };

            await using OpenBooks open = await books.OpenAsync(parse, groundRules.CustomerId, cancellationToken).ConfigureAwait(false);
            IRecordJournal journal = open.Ledger;
            string path = open.Where;
            using ChargeLedger chargeLedger = await ChargeLedger.OpenAsync(journal, book, cancellationToken: cancellationToken).ConfigureAwait(false);
            long before = journal.Count;
            ChargeEntry entry;
            try
            {
                entry = await chargeLedger.RecordAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (IdempotencyConflictException e)
            {
                throw new CliException(ExitCode.Refused, $"{path}: {CliConsole.Sentence(e.Message)}", e);
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCode.Usage, CliConsole.Sentence(e.Message), e);
            }

            return console.Done(new Report()
                .Field("entryId", "entry", entry.EntryId)
                .Field("recorded", "recorded now", journal.Count > before)
                .Field("status", "status", entry.Status.ToString().ToLowerInvariant())
                .Field("heldBecause", "held because", entry.HeldBecause)
                .Field("amount", "amount", $"{entry.Charge.Currency} {Money.Format(entry.Charge.AmountMinor, entry.Charge.Currency)}")
                .Field("ledgerRecords", "ledger records", journal.Count)
                .Field("file", "ledger", path));
        });
        return command;
    }

    private static readonly ChargeKind[] Kinds = [ChargeKind.CallSetup, ChargeKind.ConnectTime, ChargeKind.DataVolume, ChargeKind.Other];

    /// <summary>The kind's name as the CSV lines and this command's --kind spell it.</summary>
    public static string KindName(ChargeKind kind) => kind switch
    {
        ChargeKind.CallSetup => "call-setup",
        ChargeKind.ConnectTime => "connect-time",
        ChargeKind.DataVolume => "data-volume",
        _ => "other",
    };

    private static decimal Number(ParseResult parse, Option<string> option)
    {
        string text = parse.GetValue(option)!;
        return decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value)
            ? value
            : throw new CliException(ExitCode.Usage, $"{option.Name} '{text}' is not a non-negative decimal number (e.g. 600 or 0.25).");
    }
}
