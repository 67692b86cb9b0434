using RemoteSupport.Consent;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Tests.Consent;

/// <summary>An imported request's own checks (its paths) and the approval made from it, field by field.</summary>
public sealed class ApprovalRequestValidationTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    private static ApprovalRequest Request(SupportOperation operation = SupportOperation.ViewData, string[]? paths = null, string? owner = "fabrikam", string? diagnostic = null) => new()
    {
        RequestId = "req-1",
        SessionId = "sess-1",
        TechnicianId = "contoso",
        TechnicianKeyId = "ed25519:abc",
        Operation = operation,
        Root = operation == SupportOperation.RunDiagnostic ? null : "finance",
        Paths = paths ?? ["ledger/2026.csv"],
        Owner = operation == SupportOperation.RunDiagnostic ? null : owner,
        Diagnostic = diagnostic,
        Reason = "ticket 4711",
        RequestedDurationSeconds = 600,
        RequestedAt = At,
    };

    [Fact]
    public void Validate_AcceptsASoundRequest_AndNamesABadPathsOwnProblem()
    {
        Request().Validate().Should().BeNull();
        Request(paths: ["../payroll.csv"]).Validate().Should().Be("A data path must not contain empty, '.' or '..' segments ('../payroll.csv').");
        Request(paths: ["ledger/2026.csv", "/etc/passwd"]).Validate().Should().Be("A data path is relative to its data root; absolute paths are refused.");
    }

    [Fact]
    public void Validate_RefusesAPathThatIsNotInItsCanonicalForm()
    {
        string decomposed = "ledger/e\u0301.csv";

        Request(paths: [decomposed]).Validate().Should().Be($"The path '{decomposed}' is not canonical.");
        Request(paths: ["ledger/\u00e9.csv"]).Validate().Should().BeNull();
    }

    [Fact]
    public void Validate_ChecksTheVendorsWordsFirst()
    {
        (Request() with { Reason = "two\nlines" }).Validate().Should().StartWith("The reason holds U+000A");
    }

    [Fact]
    public void ApprovalFor_CopiesTheRequestExactly()
    {
        ApprovalRequest request = Request();

        Approval approval = Approval.For(request, At, maxUses: 3);

        approval.ApprovalId.Should().StartWith("approval-").And.HaveLength("approval-".Length + 32);
        approval.RequestId.Should().Be("req-1");
        approval.RequestTextHash.Should().Be(request.TextHash);
        approval.SessionId.Should().Be("sess-1");
        approval.TechnicianKeyId.Should().Be("ed25519:abc");
        approval.Operations.Should().Equal(SupportOperation.ViewData);
        approval.Root.Should().Be("finance");
        approval.PathPatterns.Should().Equal("ledger/2026.csv");
        approval.Owners.Should().Equal("fabrikam");
        approval.Diagnostics.Should().BeEmpty();
        approval.ValidFrom.Should().Be(At);
        approval.ValidUntil.Should().Be(At.AddMinutes(10));
        approval.MaxUses.Should().Be(3);
        Approval.For(request, At).ApprovalId.Should().NotBe(approval.ApprovalId);
    }

    [Fact]
    public void ApprovalFor_ADiagnostic_NamesItAndNoOwner()
    {
        Approval approval = Approval.For(Request(SupportOperation.RunDiagnostic, paths: [], diagnostic: "disk"), At);

        approval.Diagnostics.Should().Equal("disk");
        approval.Owners.Should().BeEmpty();
        approval.MaxUses.Should().Be(1);
    }

    [Fact]
    public void ApprovalFor_Misuse_Throws()
    {
        FluentActions.Invoking(() => Approval.For(null!, At)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => Approval.For(Request(paths: ["ledger/*.csv"]), At)).Should().Throw<ArgumentException>()
            .WithMessage("*'ledger/*.csv' holds '*'*");
    }
}
