using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// A customer (fabrikam, with an affiliate fabrikam-labs), a vendor (contoso) and its technician,
/// two approvers (IT and the data owner), jointly signed ground rules and a customer-signed
/// authorization, on a Wednesday 10:00 in Berlin.
/// </summary>
internal sealed class ConsentFixture : IDisposable
{
    public const string Session = "session-1";
    public const string Unit = "unit-7";

    public ConsentFixture(DateTimeOffset? start = null, Func<SecurityGroundRules, SecurityGroundRules>? rules = null)
    {
        Time = new FakeTimeProvider(start ?? new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero)); // Wednesday 10:00 in Berlin
        Trust = new TrustStore(Time);
        Trust.Trust("fabrikam", PartyRole.Customer, Customer.PublicKey);
        Trust.Trust("contoso", PartyRole.Vendor, Vendor.PublicKey);
        Trust.Trust("contoso", PartyRole.Technician, Technician.PublicKey);
        Trust.Trust("fabrikam", PartyRole.Approver, 1, [ItApprover.PublicKey, OwnerApprover.PublicKey]);
        GroundRules = new GroundRulesBook(Trust);
        Rules = rules is null ? DefaultRules() : rules(DefaultRules());
        GroundRules.Accept(Rules.ToEnvelope().Sign(Customer).Sign(Vendor)).IsAccepted.Should().BeTrue();
        Authorizations = new AuthorizationBook(Trust, Time);
        Authorizations.Accept(AuthorizationFor(GroundRules.CurrentHash!).ToEnvelope().Sign(Customer)).IsAccepted.Should().BeTrue();
    }

    public FakeTimeProvider Time { get; }

    public PartyIdentity Customer { get; } = PartyIdentity.Create("fabrikam", PartyRole.Customer);

    public PartyIdentity Vendor { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    public PartyIdentity Technician { get; } = PartyIdentity.Create("contoso", PartyRole.Technician);

    public PartyIdentity ItApprover { get; } = PartyIdentity.Create("fabrikam", PartyRole.Approver);

    public PartyIdentity OwnerApprover { get; } = PartyIdentity.Create("fabrikam", PartyRole.Approver);

    public TrustStore Trust { get; }

    public GroundRulesBook GroundRules { get; }

    public SecurityGroundRules Rules { get; }

    public AuthorizationBook Authorizations { get; }

    public MemoryAuditSink Audit { get; } = new();

    public MemoryUseCounter Uses { get; } = new();

    public ConsentGate Gate(IApprovalUseCounter? uses = null, IConsentAuditSink? audit = null) =>
        new(Trust, Authorizations, GroundRules, uses ?? Uses, audit ?? Audit, Time);

    public SecurityGroundRules DefaultRules() => new()
    {
        Version = 1,
        CustomerId = "fabrikam",
        VendorId = "contoso",
        TimeZone = "Europe/Berlin",
        Operations =
        [
            new OperationRule(SupportOperation.ViewData, true, new ApprovalRequirement([It()])),
            new OperationRule(SupportOperation.ChangeData, true, new ApprovalRequirement([It(), Owner()])),
            new OperationRule(SupportOperation.RunDiagnostic, true, null),
        ],
        MaxApprovalLifetimeSeconds = 8 * 3600,
        DataScopes =
        [
            new DataScope("finance", ["ledger/**", "reports/*.csv"], "fabrikam"),
            new DataScope("finance", ["labs/**"], "fabrikam-labs"),
        ],
        Hours = new ServiceHours([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], "08:00", "18:00"),
        MaxSessionMinutes = 240,
        TollCharges = new TollChargePolicy("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
    };

    public ApproverGroup It() => new("IT", "fabrikam", PartyRole.Approver, [ItApprover.PublicKey.KeyId], 1);

    public ApproverGroup Owner() => new("data owner", "fabrikam", PartyRole.Approver, [OwnerApprover.PublicKey.KeyId], 1);

    public ServiceAuthorization AuthorizationFor(string groundRulesHash) => new()
    {
        AuthorizationId = "auth-2026",
        CustomerId = "fabrikam",
        VendorId = "contoso",
        VendorKeys = [Technician.PublicKey.ToString()],
        Units = [Unit],
        ValidFrom = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
        ValidUntil = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero),
        GroundRulesHash = groundRulesHash,
    };

    public ConsentRequest Request(SupportOperation operation = SupportOperation.ViewData, string path = "ledger/2026/ledger.db", string owner = "fabrikam",
        string session = Session, PartyIdentity? technician = null, string diagnostic = "disk-check") => new()
    {
        SessionId = session,
        UnitId = Unit,
        VendorId = "contoso",
        TechnicianId = "contoso",
        TechnicianKey = (technician ?? Technician).PublicKey,
        Operation = operation,
        Diagnostic = operation == SupportOperation.RunDiagnostic ? diagnostic : null,
        Root = "finance",
        Path = path,
        Owner = owner,
        Reason = "month-end reconciliation fails",
        Ticket = "T-1234",
    };

    /// <summary>An approval answering exactly <paramref name="request"/>, valid from now, signed by <paramref name="signers"/>.</summary>
    public SignedEnvelope Approve(ConsentRequest request, IEnumerable<PartyIdentity> signers, Func<Approval, Approval>? change = null)
    {
        var asked = new ApprovalRequest
        {
            RequestId = "request-1",
            SessionId = request.SessionId,
            TechnicianId = request.TechnicianId,
            TechnicianKeyId = request.TechnicianKey.KeyId,
            Operation = request.Operation,
            Diagnostic = request.Diagnostic,
            Root = request.Root,
            Paths = request.Operation == SupportOperation.RunDiagnostic ? [] : [request.Path!],
            Owner = request.Owner,
            Reason = request.Reason,
            Ticket = request.Ticket,
            RequestedDurationSeconds = 3600,
            RequestedAt = Time.GetUtcNow(),
        };
        Approval approval = Approval.For(asked, Time.GetUtcNow());
        approval = change?.Invoke(approval) ?? approval;
        SignedEnvelope envelope = approval.ToEnvelope();
        foreach (PartyIdentity signer in signers)
        {
            envelope = envelope.Sign(signer);
        }

        return envelope;
    }

    /// <summary>Decides <paramref name="request"/> with an approval signed by IT (and the data owner, for a change); it must be granted.</summary>
    public async Task<ConsentDecision> GrantAsync(ConsentRequest request)
    {
        var approvers = request.Operation == SupportOperation.ChangeData ? new[] { ItApprover, OwnerApprover } : [ItApprover];
        ConsentDecision decision = await Gate().DecideAsync(request, [Approve(request, approvers)]);
        decision.IsGranted.Should().BeTrue(decision.Sentence);
        return decision;
    }

    public void Dispose()
    {
        Customer.Dispose();
        Vendor.Dispose();
        Technician.Dispose();
        ItApprover.Dispose();
        OwnerApprover.Dispose();
    }
}

internal sealed class MemoryAuditSink : IConsentAuditSink
{
    public List<ConsentDecision> Decisions { get; } = [];

    public bool Fail { get; set; }

    public ValueTask RecordAsync(ConsentDecision decision, CancellationToken cancellationToken = default)
    {
        if (Fail)
        {
            throw new IOException("The audit journal is not writable.");
        }

        lock (Decisions)
        {
            Decisions.Add(decision);
        }

        return ValueTask.CompletedTask;
    }
}

internal sealed class MemoryUseCounter : IApprovalUseCounter
{
    private readonly Dictionary<string, int> _uses = [];

    public ValueTask<bool> TryConsumeAsync(string approvalId, int maxUses, CancellationToken cancellationToken = default)
    {
        lock (_uses)
        {
            int used = _uses.GetValueOrDefault(approvalId);
            if (used >= maxUses)
            {
                return ValueTask.FromResult(false);
            }

            _uses[approvalId] = used + 1;
            return ValueTask.FromResult(true);
        }
    }

    public int UsesOf(string approvalId)
    {
        lock (_uses)
        {
            return _uses.GetValueOrDefault(approvalId);
        }
    }
}

/// <summary>An approver whose answers the test scripts (at once, later, or never); it keeps the requests it was asked.</summary>
internal sealed class ScriptedPrompt(Func<ApprovalRequest, CancellationToken, Task<SignedEnvelope?>> answer) : IApprovalPrompt
{
    public ScriptedPrompt(Func<ApprovalRequest, SignedEnvelope?> answer)
        : this((request, _) => Task.FromResult(answer(request)))
    {
    }

    public List<ApprovalRequest> Asked { get; } = [];

    public async ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default)
    {
        lock (Asked)
        {
            Asked.Add(request);
        }

        return await answer(request, cancellationToken);
    }
}
