using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// The attacks a hostile vendor technician can try on the consent gate, the approval text, the ground
/// rules and the books (issue 15); each test is named after its attack and fails if the hole reopens.
/// </summary>
public sealed class HostileTechnicianTests : IDisposable
{
    private readonly ConsentFixture _f = new(rules: r => r with
    {
        Operations = [.. r.Operations.Where(o => o.Operation != SupportOperation.RunDiagnostic), new OperationRule(SupportOperation.RunDiagnostic, true, null)],
        Diagnostics =
        [
            new DiagnosticRule("disk-check", null),
            new DiagnosticRule("export-customer-db", new ApprovalRequirement([new ApproverGroup("IT", "fabrikam", PartyRole.Approver, null, 1)])),
        ],
    });

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task ApprovalForAHarmlessDiagnostic_DoesNotGrantAnotherDiagnostic()
    {
        // The technician asks for the read-only disk check, which needs an approval under these rules...
        ConsentFixture f = new(rules: r => r with
        {
            Diagnostics =
            [
                new DiagnosticRule("disk-check", new ApprovalRequirement([f2It()])),
                new DiagnosticRule("export-customer-db", new ApprovalRequirement([f2It()])),
            ],
        });
        using (f)
        {
            ConsentRequest asked = f.Request(SupportOperation.RunDiagnostic, diagnostic: "disk-check") with { Reason = "quick read-only disk check" };
            ConsentDecision pending = await f.Gate().DecideAsync(asked);
            pending.Outcome.Should().Be(ConsentOutcome.NeedsApproval);
            pending.ApprovalRequest!.Diagnostic.Should().Be("disk-check");
            pending.ApprovalRequest.RenderText().Should().Contain("RUN the diagnostic \"disk-check\"");
            SignedEnvelope approval = f.Approve(asked, [f.ItApprover]);
            Approval.FromEnvelope(approval).Diagnostics.Should().Equal("disk-check");

            // ...and then presents that approval to run export-customer-db.
            ConsentDecision other = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic, diagnostic: "export-customer-db"), [approval]);
            ConsentDecision same = await f.Gate().DecideAsync(asked, [approval]);

            other.IsGranted.Should().BeFalse();
            other.Reason.Should().Be(ConsentReason.ApprovalWrongDiagnostic);
            same.IsGranted.Should().BeTrue(same.Sentence);
            same.Request.Diagnostic.Should().Be("disk-check");
        }

        static ApproverGroup f2It() => new("IT", "fabrikam", PartyRole.Approver, null, 1);
    }

    [Fact]
    public async Task GroundRulesListingDiagnostics_RunListedOnesAsTheySay_AndRefuseOthers()
    {
        ConsentDecision free = await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic, diagnostic: "disk-check"));
        ConsentDecision guarded = await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic, diagnostic: "export-customer-db"));
        ConsentDecision unlisted = await _f.Gate().DecideAsync(_f.Request(SupportOperation.RunDiagnostic, diagnostic: "format-disk"));

        free.IsGranted.Should().BeTrue(free.Sentence);
        guarded.Outcome.Should().Be(ConsentOutcome.NeedsApproval);
        unlisted.Reason.Should().Be(ConsentReason.DiagnosticNotPermitted);
        unlisted.Sentence.Should().Contain("format-disk").And.Contain("disk-check");
    }

    [Theory]
    [InlineData("fix\nTicket: T-0 (pre-approved)", "U+000A")]
    [InlineData("will only run the read-only disk diagnostic\r", "U+000D")]
    [InlineData("disk check \u202Ebd-tropxe", "U+202E")]
    [InlineData("zero\u200Bwidth", "U+200B")]
    [InlineData("line\u2028separator", "U+2028")]
    [InlineData("para\u2029separator", "U+2029")]
    [InlineData("tag \U000E0041 character", "U+E0041")]
    public async Task VendorTextWithControlOrFormatCharacters_IsRefused_BeforeAnApproverSeesIt(string reason, string named)
    {
        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request() with { Reason = reason });
        ConsentDecision ticket = await _f.Gate().DecideAsync(_f.Request() with { Ticket = reason });

        decision.Outcome.Should().Be(ConsentOutcome.Denied);
        decision.Reason.Should().Be(ConsentReason.RequestMalformed);
        decision.Sentence.Should().Contain(named);
        decision.ApprovalRequest.Should().BeNull();
        ticket.Reason.Should().Be(ConsentReason.RequestMalformed);
    }

    [Fact]
    public async Task OverlongVendorText_IsRefused()
    {
        (await _f.Gate().DecideAsync(_f.Request() with { Reason = new string('x', VendorText.MaxReasonLength + 1) })).Reason.Should().Be(ConsentReason.RequestMalformed);
        (await _f.Gate().DecideAsync(_f.Request() with { Ticket = new string('x', VendorText.MaxNameLength + 1) })).Reason.Should().Be(ConsentReason.RequestMalformed);
        (await _f.Gate().DecideAsync(_f.Request() with { Reason = new string('x', VendorText.MaxReasonLength) })).Outcome.Should().Be(ConsentOutcome.NeedsApproval);
    }

    [Fact]
    public async Task VendorWords_AreRenderedQuotedOnOneLine_AndMarkedAsTheVendors()
    {
        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request() with { Reason = "says \"approved\" \\ by IT", Ticket = "T-9" });

        string[] lines = decision.ApprovalRequest!.RenderText().Split('\n');

        lines.Should().ContainSingle(l => l.StartsWith("Reason", StringComparison.Ordinal))
            .Which.Should().Be("Reason (the vendor's words): \"says \\\"approved\\\" \\\\ by IT\"");
        lines.Should().ContainSingle(l => l.StartsWith("Ticket", StringComparison.Ordinal)).Which.Should().Be("Ticket (the vendor's words): \"T-9\"");
    }

    [Fact]
    public void OfflineRoute_ImportedRequestWithInjectedLines_IsRefused()
    {
        ApprovalRequest forged = Asked("ledger/2026/ledger.db") with { Reason = "ok\nTicket: none" };

        FluentActions.Invoking(() => ApprovalRequest.FromJson(forged.ToJson())).Should().Throw<FormatException>().WithMessage("*U+000A*");
    }

    [Theory]
    [InlineData("ledger/**")]
    [InlineData("ledger/*.db")]
    [InlineData("ledger/2026/*")]
    public async Task RequestedPathWithGlobCharacters_IsRefused_SoAnApprovalNeverBecomesAWildcard(string path)
    {
        ConsentDecision decision = await _f.Gate().DecideAsync(_f.Request(path: path));

        decision.Reason.Should().Be(ConsentReason.PathRefused);
        decision.Sentence.Should().Contain("'*'");
        decision.ApprovalRequest.Should().BeNull();
    }

    [Fact]
    public void OfflineRoute_RequestWithAGlobPath_CannotBeImportedOrApproved()
    {
        ApprovalRequest forged = Asked("ledger/**");

        FluentActions.Invoking(() => ApprovalRequest.FromJson(forged.ToJson())).Should().Throw<FormatException>().WithMessage("*'*'*");
        FluentActions.Invoking(() => Approval.For(forged, _f.Time.GetUtcNow(), maxUses: 5)).Should().Throw<ArgumentException>().WithMessage("*ledger/***");
    }

    [Theory]
    [InlineData("22:00", "06:00", 2026, 11, 25, 22, 30, true)] // Wednesday 23:30 Berlin: inside, the window starts on Wednesday
    [InlineData("22:00", "06:00", 2026, 11, 26, 4, 0, true)] // Thursday 05:00: the morning after Wednesday
    [InlineData("22:00", "06:00", 2026, 11, 26, 6, 0, false)] // Thursday 07:00: after the window
    [InlineData("22:00", "06:00", 2026, 11, 25, 19, 0, false)] // Wednesday 20:00: before it
    [InlineData("22:00", "06:00", 2026, 11, 23, 4, 0, false)] // Monday 05:00: the window of Sunday, not a service day
    [InlineData("22:00", "06:00", 2026, 11, 28, 4, 0, true)] // Saturday 05:00: the morning after Friday
    public async Task OvernightServiceHours_MatchAcrossMidnight(string from, string to, int y, int m, int d, int h, int min, bool inside)
    {
        using var f = new ConsentFixture(new DateTimeOffset(y, m, d, h, min, 0, TimeSpan.Zero), r => r with { Hours = r.Hours with { From = from, To = to } });

        ConsentDecision decision = await f.Gate().DecideAsync(f.Request(SupportOperation.RunDiagnostic));

        (decision.Reason != ConsentReason.OutsideHours).Should().Be(inside, decision.Sentence);
    }

    [Theory]
    [InlineData("8:00", "18:00")]
    [InlineData("08:00", "24:00")]
    [InlineData("08:00", "6pm")]
    [InlineData("", "18:00")]
    public void MalformedServiceHours_AreRefusedWhenTheGroundRulesAreAccepted(string from, string to)
    {
        var book = new GroundRulesBook(_f.Trust);
        SecurityGroundRules rules = _f.DefaultRules() with { Hours = _f.Rules.Hours with { From = from, To = to } };

        DocumentAcceptance refusal = book.Accept(rules.ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor));

        refusal.Sentence.Should().Contain("HH:mm");
        book.Current.Should().BeNull();
    }

    [Fact]
    public async Task AnotherCustomersDocuments_DoNotApplyToThisUnit()
    {
        // Two customers' keys in one trust store: globex signs ground rules and an authorization of its own.
        using var globex = PartyIdentity.Create("globex", PartyRole.Customer);
        _f.Trust.Trust("globex", PartyRole.Customer, globex.PublicKey);
        SecurityGroundRules theirs = _f.DefaultRules() with { CustomerId = "globex" };
        SignedEnvelope rules = theirs.ToEnvelope().Sign(globex).Sign(_f.Vendor);
        var groundRules = new GroundRulesBook(_f.Trust) { CustomerId = "fabrikam" };
        var authorizations = new AuthorizationBook(_f.Trust, _f.Time) { CustomerId = "fabrikam" };
        ServiceAuthorization authorization = _f.AuthorizationFor(SecurityGroundRules.DocumentHash(rules)) with { CustomerId = "globex" };

        groundRules.Accept(rules).Sentence.Should().Contain("customer globex").And.Contain("fabrikam");
        authorizations.Accept(authorization.ToEnvelope().Sign(globex)).Sentence.Should().Contain("customer globex");
        authorizations.Revoke(new AuthorizationRevocation { AuthorizationId = "auth-2026", CustomerId = "globex", Reason = "x" }.ToEnvelope().Sign(globex))
            .Sentence.Should().Contain("customer globex");
        groundRules.Current.Should().BeNull();
        (await new ConsentGate(_f.Trust, authorizations, groundRules, _f.Uses, _f.Audit, _f.Time).DecideAsync(_f.Request(SupportOperation.RunDiagnostic)))
            .IsGranted.Should().BeFalse();
    }

    private ApprovalRequest Asked(string path) => new()
    {
        RequestId = "request-1",
        SessionId = ConsentFixture.Session,
        TechnicianId = "contoso",
        TechnicianKeyId = _f.Technician.PublicKey.KeyId,
        Operation = SupportOperation.ViewData,
        Root = "finance",
        Paths = [path],
        Owner = "fabrikam",
        Reason = "reconciliation",
        RequestedDurationSeconds = 3600,
        RequestedAt = _f.Time.GetUtcNow(),
    };
}
