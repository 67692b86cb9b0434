using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RemoteSupport.Audit;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Soak;

/// <summary>
/// The invariants a soak run must leave true (docs/testing.md): every charge at most once per key and each session's
/// totals exact; the data file one whole version, the one the audit last recorded; the install root one whole version,
/// the one installed; the audit journal verifying against every checkpoint taken during the run and reopening with
/// nothing torn; every session the unit opened ended with a recorded reason; no connection, timer or buffer left over.
/// </summary>
internal sealed class SoakChecks(SoakUnit unit, IReadOnlyList<TransportConnection> dialed, IReadOnlySet<string> written, IReadOnlyList<string> checkpoints)
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);
    private readonly List<string> _violations = [];

    /// <summary>Stops the unit's host and checks everything but the reopen (<see cref="ReopenAsync"/>).</summary>
    public async Task<IReadOnlyList<string>> CheckAsync()
    {
        await unit.StopAsync();
        await CheckResourcesAsync();
        string export = Path.Combine(unit.Folder, "audit-export-" + unit.AuditJournal.Count.ToString(CultureInfo.InvariantCulture));
        await unit.AuditJournal.ExportAsync(export);
        IReadOnlyList<AuditEvent> audit = await AuditLog.ReadExportAsync(export);
        CheckSessions(audit);
        await CheckDataFileAsync(audit);
        CheckInstall(audit);
        await CheckCheckpointsAsync(export);
        File.Delete(export);
        return _violations;
    }

    /// <summary>
    /// The export against the last checkpoint through the verifier a customer runs, and each earlier checkpoint as a prefix
    /// of the same tree (the root of its size), from one read of the export: verifying every checkpoint with the verifier
    /// would read the whole export once per checkpoint (a 27,000-session run took 45 minutes of its checks that way).
    /// </summary>
    private async Task CheckCheckpointsAsync(string export)
    {
        JournalVerification verified = await JournalVerifier.VerifyAsync(export, checkpoints[^1], "unit-7", unit.Unit.PublicKey);
        if (!verified.IsValid)
        {
            _violations.Add("the audit journal does not verify against the last checkpoint of the run: " + verified.Sentence);
        }

        byte[][] leaves = [.. (await AppendOnlyJournal.ReadAllRecordsAsync(export)).Select(record => MerkleTree.LeafHash(record))];
        foreach (string note in checkpoints.SkipLast(1))
        {
            if (!Checkpoint.TryVerify(note, "unit-7", unit.Unit.PublicKey, out Checkpoint? checkpoint, out string error))
            {
                _violations.Add("a checkpoint taken during the run does not verify: " + error);
            }
            else if (checkpoint.Size > leaves.Length || !MerkleTree.Root(leaves, checkpoint.Size).AsSpan().SequenceEqual(checkpoint.Root))
            {
                _violations.Add(string.Create(CultureInfo.InvariantCulture,
                    $"the audit journal's first {checkpoint.Size} records are not those the checkpoint of that size signed"));
            }
        }
    }

    /// <summary>Reopens the journals the (disposed) unit wrote: each holds the records it held, with nothing torn.</summary>
    public static async Task<IReadOnlyList<string>> ReopenAsync(string folder, long auditRecords, long ledgerRecords)
    {
        var violations = new List<string>();
        foreach ((string name, long count) in new[] { ("audit.journal", auditRecords), ("ledger.journal", ledgerRecords) })
        {
            await using AppendOnlyJournal journal = await AppendOnlyJournal.OpenAsync(Path.Combine(folder, name));
            if (journal.Count != count || journal.TruncatedBytesOnOpen != 0)
            {
                violations.Add($"{name} reopened with {journal.Count} records ({journal.TruncatedBytesOnOpen} bytes truncated); it held {count}");
            }
        }

        return violations;
    }

    private async Task CheckResourcesAsync()
    {
        TransportConnection[] connections = [.. unit.Accepted, .. dialed];
        await Until(() => connections.All(c => c.Closed.IsCompleted) && unit.Timers.LiveTimers == 0 && unit.Buffers.Outstanding == 0);
        int open = connections.Count(c => !c.Closed.IsCompleted);
        if (open > 0)
        {
            _violations.Add($"{open} of {connections.Length} connections never finished closing");
        }

        if (unit.Timers.LiveTimers != 0)
        {
            _violations.Add($"{unit.Timers.LiveTimers} of {unit.Timers.CreatedTimers} timers are still alive after every connection closed");
        }

        if (unit.Buffers.Outstanding != 0)
        {
            _violations.Add($"{unit.Buffers.Outstanding} of {unit.Buffers.Rented} pipe buffers were never returned");
        }

        if (unit.Ended.Count != unit.AcceptedCount)
        {
            _violations.Add($"the unit accepted {unit.AcceptedCount} connections and reported {unit.Ended.Count} sessions ended");
        }

        int silent = unit.Ended.Count(e => e.Receipt is null && e.Failure is null);
        if (silent > 0)
        {
            _violations.Add($"{silent} connections ended with neither a receipt nor a failure");
        }
    }

    private void CheckSessions(IReadOnlyList<AuditEvent> audit)
    {
        Dictionary<string, AuditEvent> opened = audit.Where(e => e.Kind == AuditEventKind.SessionOpened).ToDictionary(e => e.SessionId!, StringComparer.Ordinal);
        ILookup<string, AuditEvent> closed = audit.Where(e => e.Kind == AuditEventKind.SessionClosed).ToLookup(e => e.SessionId!, StringComparer.Ordinal);
        ILookup<string, ChargeEntry> charges = unit.Ledger.Entries.ToLookup(e => e.Charge.SessionId ?? "", StringComparer.Ordinal);
        foreach (IGrouping<string, ChargeEntry> twice in unit.Ledger.Entries.GroupBy(e => e.Charge.IdempotencyKey, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            _violations.Add($"the charge {twice.Key} is in the ledger {twice.Count()} times");
        }

        var card = new RateCard(unit.GroundRules.Current!.TollCharges);
        long expectedTotal = 0;
        TimeSpan connected = TimeSpan.Zero;
        foreach ((string session, AuditEvent open) in opened)
        {
            AuditEvent[] ends = [.. closed[session]];
            if (ends.Length != 1 || string.IsNullOrEmpty(ends[0].Details.GetValueOrDefault("ending")))
            {
                _violations.Add($"session {session} was opened and has {ends.Length} close records{(ends.Length == 1 ? " without an ending" : "")}");
                continue;
            }

            TimeSpan duration = ends[0].At - open.At;
            connected += duration;
            long setup = card.SetupFeeMinor, time = card.ConnectTimeMinor(duration);
            expectedTotal += setup + time;
            ExpectCharge(session, charges[session], ChargeKind.CallSetup, setup);
            ExpectCharge(session, charges[session], ChargeKind.ConnectTime, time);
        }

        foreach (ChargeEntry stray in unit.Ledger.Entries.Where(e => !opened.ContainsKey(e.Charge.SessionId ?? "")))
        {
            _violations.Add($"the ledger charges {stray.Charge.IdempotencyKey} for a session the audit never opened");
        }

        long total = unit.Ledger.Entries.Sum(e => e.Charge.AmountMinor);
        if (total != expectedTotal)
        {
            _violations.Add($"the ledger's charges total {total} minor units; the sessions' rates and connect times make {expectedTotal}");
        }

        if (connected > unit.Advanced)
        {
            _violations.Add($"the sessions' connect times add up to {connected}; the contract's clock moved only {unit.Advanced} inside them");
        }

        foreach (AuditEvent stray in audit.Where(e => e.Kind == AuditEventKind.SessionClosed && !opened.ContainsKey(e.SessionId!)))
        {
            _violations.Add($"session {stray.SessionId} was closed but never opened");
        }
    }

    private void ExpectCharge(string session, IEnumerable<ChargeEntry> charges, ChargeKind kind, long amount)
    {
        ChargeEntry[] found = [.. charges.Where(c => c.Charge.Kind == kind)];
        if (found.Length != 1 || found[0].Charge.AmountMinor != amount)
        {
            _violations.Add($"session {session}: {found.Length} {kind} charges ({string.Join(", ", found.Select(f => f.Charge.AmountMinor))}); expected one of {amount}");
        }
    }

    private async Task CheckDataFileAsync(IReadOnlyList<AuditEvent> audit)
    {
        byte[] bytes = await File.ReadAllBytesAsync(Path.Combine(unit.DataRoot, SoakUnit.DataPath));
        string content = Encoding.UTF8.GetString(bytes);
        if (content != "account,amount\n4711,12.50\n" && !written.Contains(content))
        {
            _violations.Add($"the data file holds bytes no change wrote (half-written?): {content.Length} characters");
        }

        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        AuditEvent? last = audit.LastOrDefault(e => e.Kind == AuditEventKind.DataFileChanged && e.Details.GetValueOrDefault("path") == SoakUnit.DataPath);
        string expected = last?.Details["hash-after"] ?? Convert.ToHexStringLower(SHA256.HashData("account,amount\n4711,12.50\n"u8));
        if (hash != expected)
        {
            _violations.Add($"the data file's hash is {hash}; the last change the audit recorded left {expected}");
        }
    }

    private void CheckInstall(IReadOnlyList<AuditEvent> audit)
    {
        string? installed = unit.Installer.InstalledVersion("ledger");
        string expected = installed is null
            ? Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(unit.InitialApp)))
            : unit.Fixes.Single(f => f.Version == installed).AppHash;
        string[] files = [.. Directory.GetFiles(unit.InstallRoot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(unit.InstallRoot, f).Replace('\\', '/'))];
        if (files is not ["bin/app.dll"])
        {
            _violations.Add($"the install root holds {string.Join(", ", files)}; version {installed ?? "2.3.0"} has only bin/app.dll");
        }
        else if (Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(unit.InstallRoot, "bin", "app.dll")))) != expected)
        {
            _violations.Add($"the install root is between versions: bin/app.dll is not as version {installed ?? "2.3.0"} has it");
        }

        string? audited = audit.LastOrDefault(e => e.Kind == AuditEventKind.FixInstalled)?.Details.GetValueOrDefault("version");
        if (audited != installed)
        {
            _violations.Add($"the installed version is {installed ?? "none"}; the last install the audit recorded is {audited ?? "none"}");
        }
    }

    private static async Task Until(Func<bool> condition)
    {
        long started = Stopwatch.GetTimestamp();
        while (!condition() && Stopwatch.GetElapsedTime(started) < Settle)
        {
            await Task.Delay(20);
        }
    }
}
