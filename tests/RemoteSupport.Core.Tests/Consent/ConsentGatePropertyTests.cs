using FsCheck.Xunit;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// The consent gate against a small reference model of the ground rules, over random requests and
/// approvals: the gate never grants what the model denies.
/// </summary>
public sealed class ConsentGatePropertyTests
{
    // Three clocks: Wednesday 10:00 in Berlin (inside the hours), Wednesday 20:00, Saturday 10:00.
    private static readonly ConsentFixture[] Fixtures =
    [
        new(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero)),
        new(new DateTimeOffset(2026, 11, 25, 19, 0, 0, TimeSpan.Zero)),
        new(new DateTimeOffset(2026, 11, 28, 9, 0, 0, TimeSpan.Zero)),
    ];

    private static readonly PartyIdentity OtherTechnician = PartyIdentity.Create("contoso", PartyRole.Technician);
    private static readonly string[] Paths = ["ledger/a.db", "labs/x.db", "payroll/p.db", "../etc/passwd"];
    private static readonly string[] Owners = ["fabrikam", "fabrikam-labs"];

    [Property(MaxTest = 1000)]
    public bool Gate_NeverGrantsWhatTheModelDenies(Guid randomness)
    {
        byte[] b = randomness.ToByteArray();
        var c = new Case(b);
        ConsentFixture f = Fixtures[c.Clock];
        ConsentRequest request = f.Request(c.Operation, Paths[c.Path], Owners[c.Owner]);
        var approvals = new List<SignedEnvelope>();
        if (c.HasApproval)
        {
            ConsentRequest asked = f.Request(c.Operation, Paths[c.Path], Owners[c.Owner],
                session: c.SameSession ? ConsentFixture.Session : "session-other",
                technician: c.SameTechnician ? null : OtherTechnician);
            var signers = new List<PartyIdentity>();
            if (c.SignedByIt)
            {
                signers.Add(f.ItApprover);
            }

            if (c.SignedByOwner)
            {
                signers.Add(f.OwnerApprover);
            }

            if (c.SignedByTechnician)
            {
                signers.Add(f.Technician);
            }

            approvals.Add(f.Approve(asked, signers, a => a with
            {
                Operations = c.ApprovedOperations,
                PathPatterns = [c.ApprovedPattern(Paths[c.Path])],
                Owners = c.ApprovedOwners,
                ValidFrom = a.ValidFrom.AddHours(c.ValidityShiftHours),
                ValidUntil = a.ValidFrom.AddHours(c.ValidityShiftHours + c.LifetimeHours),
                MaxUses = c.MaxUses,
            }));
        }

        var gate = new ConsentGate(f.Trust, f.Authorizations, f.GroundRules, new MemoryUseCounter(), new MemoryAuditSink(), f.Time);
        ConsentDecision decision = gate.DecideAsync(request, approvals).AsTask().GetAwaiter().GetResult();
        // The model and the gate agree both ways; the gate never grants what the model denies.
        return decision.IsGranted == Model(c);
    }

    // The ground rules list two diagnostics: disk-check runs freely, export-customer-db needs IT's approval.
    private static readonly ConsentFixture DiagnosticFixture = new(rules: r => r with
    {
        Diagnostics =
        [
            new DiagnosticRule("disk-check", null),
            new DiagnosticRule("export-customer-db", new ApprovalRequirement([new ApproverGroup("IT", "fabrikam", PartyRole.Approver, null, 1)])),
        ],
    });

    private static readonly string[] DiagnosticNames = ["disk-check", "export-customer-db", "format-disk", "disk check\n"];
    private static readonly string[] GlobPaths = ["ledger/**", "ledger/*.db", "ledger/2026/ledger.db"];

    [Property(MaxTest = 500)]
    public bool Gate_GrantsADiagnosticExactlyAsTheModelSays(Guid randomness)
    {
        byte[] b = randomness.ToByteArray();
        ConsentFixture f = DiagnosticFixture;
        string asked = DiagnosticNames[b[0] % DiagnosticNames.Length];
        string approved = DiagnosticNames[b[1] % 2]; // an approval names one of the two listed diagnostics
        bool hasApproval = b[2] % 3 != 0;
        bool signed = b[3] % 4 != 0;
        ConsentRequest request = f.Request(SupportOperation.RunDiagnostic, diagnostic: asked);
        var approvals = new List<SignedEnvelope>();
        if (hasApproval)
        {
            approvals.Add(f.Approve(f.Request(SupportOperation.RunDiagnostic, diagnostic: approved), signed ? [f.ItApprover] : [f.Technician]));
        }

        var gate = new ConsentGate(f.Trust, f.Authorizations, f.GroundRules, new MemoryUseCounter(), new MemoryAuditSink(), f.Time);
        ConsentDecision decision = gate.DecideAsync(request, approvals).AsTask().GetAwaiter().GetResult();

        bool model = asked switch
        {
            "disk-check" => true,
            "export-customer-db" => hasApproval && signed && approved == asked,
            _ => false, // not listed, or not a diagnostic name at all
        };
        return decision.IsGranted == model && (!decision.IsGranted || decision.Request.Diagnostic == asked);
    }

    [Property(MaxTest = 300)]
    public bool Gate_NeverGrantsARequestedPathWithGlobCharacters(Guid randomness)
    {
        byte[] b = randomness.ToByteArray();
        ConsentFixture f = Fixtures[0];
        string path = GlobPaths[b[0] % GlobPaths.Length];
        SupportOperation operation = b[1] % 2 == 0 ? SupportOperation.ViewData : SupportOperation.ChangeData;
        ConsentRequest request = f.Request(operation, path);
        // Whatever approval the technician holds, even one whose patterns are themselves wildcards.
        SignedEnvelope approval = f.Approve(f.Request(operation, "ledger/2026/ledger.db"), [f.ItApprover, f.OwnerApprover],
            a => a with { PathPatterns = [b[2] % 2 == 0 ? "ledger/**" : path] });

        var gate = new ConsentGate(f.Trust, f.Authorizations, f.GroundRules, new MemoryUseCounter(), new MemoryAuditSink(), f.Time);
        ConsentDecision decision = gate.DecideAsync(request, [approval]).AsTask().GetAwaiter().GetResult();

        bool model = !path.Contains('*', StringComparison.Ordinal); // a literal path inside the scope, approved by both groups
        return decision.IsGranted == model && (path.Contains('*', StringComparison.Ordinal) ? decision.Reason == ConsentReason.PathRefused : true);
    }

    /// <summary>The ground rules of <see cref="ConsentFixture"/>, written out as a predicate.</summary>
    private static bool Model(Case c)
    {
        bool inHours = c.Clock == 0;
        bool inScope = (c.Path == 0 && c.Owner == 0) || (c.Path == 1 && c.Owner == 1);
        bool quorum = c.SignedByIt && (c.Operation == SupportOperation.ViewData || c.SignedByOwner);
        bool bound = c.SameSession && c.SameTechnician && c.ApprovedOperations.Contains(c.Operation)
            && c.PatternCovers && c.ApprovedOwners.Contains(Owners[c.Owner]);
        bool valid = c.ValidityShiftHours <= 0 && c.ValidityShiftHours + c.LifetimeHours > 0 && c.LifetimeHours <= 8 && c.MaxUses >= 1;
        return inHours && inScope && c.HasApproval && quorum && bound && valid;
    }

    /// <summary>Choices drawn from 16 random bytes, biased towards valid values so grants are frequent enough to matter.</summary>
    private sealed class Case(byte[] b)
    {
        public int Clock { get; } = (b[0] % 4) switch { 0 or 1 => 0, 2 => 1, _ => 2 };

        public SupportOperation Operation { get; } = b[1] % 2 == 0 ? SupportOperation.ViewData : SupportOperation.ChangeData;

        public int Path { get; } = (b[2] % 8) switch { < 4 => 0, < 6 => 1, 6 => 2, _ => 3 };

        public int Owner => b[3] % 4 == 0 ? 1 - NaturalOwner : NaturalOwner;

        public bool HasApproval { get; } = b[4] % 4 != 0;

        public bool SameSession { get; } = b[5] % 4 != 0;

        public bool SameTechnician { get; } = b[6] % 4 != 0;

        public bool SignedByIt { get; } = b[7] % 4 != 0;

        public bool SignedByOwner { get; } = b[13] % 4 != 0;

        public bool SignedByTechnician { get; } = b[14] % 4 == 0;

        public IReadOnlyList<SupportOperation> ApprovedOperations { get; } = (b[8] % 4) switch
        {
            0 => [SupportOperation.ViewData],
            1 => [SupportOperation.ChangeData],
            _ => [SupportOperation.ViewData, SupportOperation.ChangeData],
        };

        public int PatternChoice { get; } = (b[9] % 4) switch { 1 => 1, 2 => 2, _ => 0 };

        public IReadOnlyList<string> ApprovedOwners { get; } = (b[10] % 4) switch
        {
            0 => ["fabrikam"],
            1 => ["fabrikam-labs"],
            _ => ["fabrikam", "fabrikam-labs"],
        };

        public int ValidityShiftHours { get; } = (b[11] % 6) switch { 3 => -3, 4 => 1, _ => 0 };

        public int LifetimeHours { get; } = b[11] % 6 == 5 ? 10 : 1;

        public int MaxUses { get; } = b[12] % 4 == 0 ? 0 : 1 + (b[12] % 2);

        private int NaturalOwner => Path == 1 ? 1 : 0;

        public bool PatternCovers => PatternChoice switch
        {
            0 => Path is 0 or 1,
            1 => Path == 0,
            _ => Path == 1,
        };

        public string ApprovedPattern(string path) => PatternChoice switch
        {
            0 => path,
            1 => "ledger/**",
            _ => "labs/**",
        };
    }
}
