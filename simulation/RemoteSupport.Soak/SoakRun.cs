using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Soak;

/// <summary>What a soak run found.</summary>
internal sealed record SoakReport(int Sessions, int Faults, IReadOnlyList<string> Violations, int Seed, IReadOnlyDictionary<string, int> Outcomes)
{
    public string Summary => $"soak: {Sessions} sessions, {Faults} faults, {Violations.Count} violations, seed {Seed}";
}

/// <summary>
/// A soak run: <c>sessions</c> sessions one after another against one <see cref="SoakUnit"/>, each planned by
/// <see cref="SessionPlan.Draw"/>, its connection faulted by a <see cref="FaultyStream"/>; then <see cref="SoakChecks"/>.
/// </summary>
internal sealed class SoakRun(string folder, int seed, double faultRate, TextWriter log)
{
    /// <summary>How long a session may take on the real clock (a stall ends within the keep-alive's 3 s).</summary>
    public static readonly TimeSpan SessionDeadline = TimeSpan.FromSeconds(20);

    private readonly ReplayBook _replays = new();
    private readonly List<TransportConnection> _dialed = [];
    private readonly List<string> _violations = [];
    private readonly HashSet<string> _written = new(StringComparer.Ordinal);
    private readonly List<string> _checkpoints = [];
    private readonly Dictionary<string, int> _outcomes = new(StringComparer.Ordinal);

    /// <summary>Gets the audit checkpoints the unit signed during the run (one every 10 sessions and one at the end), for the checks.</summary>
    internal List<string> Checkpoints => _checkpoints;

    public async Task<SoakReport> RunAsync(int sessions, Func<SoakUnit, Task>? beforeChecks = null)
    {
        int faults = 0;
        long auditRecords, ledgerRecords;
        SoakUnit unit = await SoakUnit.StartAsync(folder, fixCount: 12);
        try
        {
            for (int index = 0; index < sessions; index++)
            {
                SessionPlan plan = SessionPlan.Draw(seed, index, faultRate);
                int violationsBefore = _violations.Count;
                faults += await RunSessionAsync(unit, plan) ? 1 : 0;
                if (_violations.Count > violationsBefore)
                {
                    log.WriteLine($"violation in {plan} (rerun: --seed {seed} --sessions {index + 1})");
                }

                if (index % 10 == 9)
                {
                    _checkpoints.Add(unit.AuditCheckpoint());
                }
            }

            _checkpoints.Add(unit.AuditCheckpoint());
            if (beforeChecks is not null)
            {
                await beforeChecks(unit);
            }

            _violations.AddRange(await new SoakChecks(unit, _dialed, _written, _checkpoints).CheckAsync());
            log.WriteLine($"checked: {unit.AcceptedCount} connections, {unit.Timers.CreatedTimers} timers, {unit.Buffers.Rented} pipe buffers, " +
                $"{unit.AuditJournal.Count} audit records against {_checkpoints.Count} checkpoints, {unit.Ledger.Entries.Count} charges, " +
                $"{unit.Ledger.Entries.Sum(e => e.Charge.AmountMinor)} minor units, fix {unit.Installer.InstalledVersion("ledger") ?? "none"} installed");
            (auditRecords, ledgerRecords) = (unit.AuditJournal.Count, unit.LedgerJournal.Count);
        }
        finally
        {
            await unit.DisposeAsync();
        }

        _violations.AddRange(await SoakChecks.ReopenAsync(folder, auditRecords, ledgerRecords));
        return new SoakReport(sessions, faults, _violations, seed, _outcomes);
    }

    /// <summary>Runs one session; returns whether its fault struck.</summary>
    private async Task<bool> RunSessionAsync(SoakUnit unit, SessionPlan plan)
    {
        using var deadline = new CancellationTokenSource(SessionDeadline);
        int acceptedBefore = unit.AcceptedCount;
        TimeSpan advancedBefore = unit.Advanced;
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(unit.EndPoint, deadline.Token);
        var stream = new FaultyStream(socket, plan.Fault, plan.DelaySeed, _replays);
        TransportConnection connection = StreamTransport.Connect(stream, "soak-unit", unit.Transport());
        _dialed.Add(connection);
        bool revoked = false;
        string outcome;
        try
        {
            await using (SupportConsoleConnection console = await SupportConsoleConnection.OpenAsync(connection, dialed: true, unit.ConsoleConnection(), deadline.Token))
            {
                foreach (SoakStep step in plan.Steps)
                {
                    unit.Approvals.Next = step.Answer;
                    SessionOperationResult? result = await RunStepAsync(unit, console.Session, plan, step, deadline.Token);
                    if (step.Operation == SoakOperation.Revoke)
                    {
                        revoked = true;
                    }
                    else if (revoked && result is { Succeeded: true })
                    {
                        _violations.Add($"{plan}: {step.Operation} succeeded after the authorization was revoked in the session");
                    }
                }

                if (plan.Close)
                {
                    await console.Session.CloseAsync(deadline.Token);
                }
            }

            outcome = plan.Close ? "closed" : "abandoned";
        }
        catch (Exception ex) when (plan.Fault.Kind != FaultKind.None && stream.Struck && ex is IOException or SessionProtocolException or OperationCanceledException)
        {
            outcome = "failed: " + ex.GetType().Name;
        }
        catch (Exception ex) when (ex is SessionRefusedException && revoked)
        {
            outcome = "refused after revocation";
        }
        catch (Exception ex)
        {
            outcome = "unexpected: " + ex.GetType().Name;
            _violations.Add($"{plan}: the console failed without a fault to explain it: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            await connection.DisposeAsync();
        }

        Count(outcome);
        await WaitForTheUnitAsync(unit, plan, acceptedBefore);
        CheckConnectTime(unit, plan, unit.Advanced - advancedBefore);
        if (revoked)
        {
            unit.Authorize();
        }

        bool struck = plan.Fault.Kind != FaultKind.None && stream.Struck;
        if (struck)
        {
            Count("fault struck: " + plan.Fault.Kind);
        }

        return struck;
    }

    private async Task<SessionOperationResult?> RunStepAsync(SoakUnit unit, SupportSession session, SessionPlan plan, SoakStep step, CancellationToken cancellationToken)
    {
        switch (step.Operation)
        {
            case SoakOperation.View:
                return await session.ViewAsync("finance", SoakUnit.DataPath, "fabrikam", "soak: look at the totals", cancellationToken);
            case SoakOperation.Change:
                string content = $"account,amount\n4711,{plan.Index}.{step.Value:00}\n";
                _written.Add(content);
                return await session.ChangeAsync("finance", SoakUnit.DataPath, "fabrikam", Encoding.UTF8.GetBytes(content), "soak: correct the total", cancellationToken);
            case SoakOperation.List:
                return await session.ListAsync("finance", "ledger", "fabrikam", "soak: what is there", cancellationToken);
            case SoakOperation.Work:
                return await session.RunDiagnosticAsync("work-" + step.Value, "soak: troubleshooting", cancellationToken);
            case SoakOperation.PushFix:
                string? installed = unit.Installer.InstalledVersion("ledger");
                int next = unit.Fixes.FindIndex(f => f.Version == installed) + 1;
                (string _, string package, string _) = unit.Fixes[Math.Min(next, unit.Fixes.Count - 1)];
                return await session.PushFixAsync(package, "soak: distribute the fix", cancellationToken);
            default:
                unit.Revoke();
                return null;
        }
    }

    /// <summary>Waits until the unit has ended every connection it accepted; a connection it holds on to is a violation.</summary>
    private async Task WaitForTheUnitAsync(SoakUnit unit, SessionPlan plan, int acceptedBefore)
    {
        long started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < SessionDeadline)
        {
            if (unit.AcceptedCount > acceptedBefore && unit.Ended.Count >= unit.AcceptedCount)
            {
                return;
            }

            await Task.Delay(5);
        }

        _violations.Add(unit.AcceptedCount == acceptedBefore
            ? $"{plan}: the unit never accepted the connection"
            : $"{plan}: the unit did not end the session within {SessionDeadline.TotalSeconds:0} s");
    }

    /// <summary>
    /// A closed session is metered for exactly the time that passed in it; a dropped or abandoned one up to when the
    /// console was last heard, so never for more.
    /// </summary>
    private void CheckConnectTime(SoakUnit unit, SessionPlan plan, TimeSpan passed)
    {
        if (unit.Ended.Count == 0 || unit.Ended[^1].Receipt is not { } signed)
        {
            return;
        }

        SessionReceipt receipt = SessionReceipt.FromEnvelope(signed);
        TimeSpan metered = receipt.ClosedAt - receipt.OpenedAt;
        if (receipt.Ending == "closed" ? metered != passed : metered > passed)
        {
            _violations.Add($"{plan}: the receipt of the {receipt.Ending} session meters {metered}; {passed} passed in it");
        }
    }

    private void Count(string outcome) => _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
}
