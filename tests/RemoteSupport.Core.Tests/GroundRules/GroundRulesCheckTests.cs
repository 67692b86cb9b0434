using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.GroundRules;

/// <summary>What a first version and an amendment must satisfy before they are in force (the mutation run of GroundRules, docs/testing.md).</summary>
public sealed class GroundRulesCheckTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    private DocumentAcceptance AcceptFirst(SecurityGroundRules rules) =>
        new GroundRulesBook(_f.Trust).Accept(rules.ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor));

    [Fact]
    public void NullArguments_Throw()
    {
        FluentActions.Invoking(() => new GroundRulesBook(null!)).Should().Throw<ArgumentNullException>().WithParameterName("trust");
        FluentActions.Invoking(() => SecurityGroundRules.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
        FluentActions.Invoking(() => SecurityGroundRules.DocumentHash(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
    }

    [Theory]
    [InlineData(2, null)]
    [InlineData(1, "0000000000000000000000000000000000000000000000000000000000000000")]
    public void AFirstVersion_MustBeVersion1AndReplaceNothing(int version, string? replaces)
    {
        DocumentAcceptance refused = AcceptFirst(_f.DefaultRules() with { Version = version, Replaces = replaces });

        refused.Reason.Should().Be(DocumentRefusal.OutOfSequence);
        refused.Sentence.Should().Be("The first ground rules must be version 1 and replace nothing.");
    }

    [Fact]
    public void AnAmendment_ThatChangesEitherParty_IsRefused()
    {
        using var woodgrove = PartyIdentity.Create("woodgrove", PartyRole.Customer);
        using var northwind = PartyIdentity.Create("northwind", PartyRole.Vendor);
        _f.Trust.Trust("woodgrove", PartyRole.Customer, woodgrove.PublicKey);
        _f.Trust.Trust("northwind", PartyRole.Vendor, northwind.PublicKey);
        SecurityGroundRules next = _f.Rules with { Version = 2, Replaces = _f.GroundRules.CurrentHash };

        DocumentAcceptance otherCustomer = _f.GroundRules.Accept((next with { CustomerId = "woodgrove" }).ToEnvelope().Sign(woodgrove).Sign(_f.Vendor));
        DocumentAcceptance otherVendor = _f.GroundRules.Accept((next with { VendorId = "northwind" }).ToEnvelope().Sign(_f.Customer).Sign(northwind));

        foreach (DocumentAcceptance refused in new[] { otherCustomer, otherVendor })
        {
            refused.Reason.Should().Be(DocumentRefusal.Invalid);
            refused.Sentence.Should().Be("An amendment cannot change the parties.");
        }

        _f.GroundRules.Current!.Version.Should().Be(1);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[]")]
    public void ServiceHours_WithoutADay_AreRefused(string days)
    {
        DocumentAcceptance refused = new GroundRulesBook(_f.Trust).Accept(WithDays(days).Sign(_f.Customer).Sign(_f.Vendor));

        refused.Reason.Should().Be(DocumentRefusal.Invalid);
        refused.Sentence.Should().Be("The service hours must name at least one day of the week.");
    }

    [Fact]
    public void ServiceHours_WithADayThatIsNoDay_AreRefusedAsMalformed()
    {
        // The reader takes only day names, so the book's own check of a day number past Saturday is a second line
        // that no document reaches (its mutants are equivalent, docs/testing.md).
        DocumentAcceptance refused = new GroundRulesBook(_f.Trust).Accept(WithDays("[\"monday\",7]").Sign(_f.Customer).Sign(_f.Vendor));

        refused.Reason.Should().Be(DocumentRefusal.Malformed);
    }

    /// <summary>The default rules with their JSON's days replaced by <paramref name="days"/> (what a serializer of ours would never write).</summary>
    private SignedEnvelope WithDays(string days)
    {
        SecurityGroundRules rules = _f.DefaultRules();
        string json = System.Text.Encoding.UTF8.GetString((rules with { Hours = rules.Hours with { Days = [DayOfWeek.Monday] } }).ToEnvelope().Payload.Span);
        json.Should().Contain("\"days\":[\"monday\"]");
        return SignedEnvelope.Create(SecurityGroundRules.DocumentType, System.Text.Encoding.UTF8.GetBytes(json.Replace("\"days\":[\"monday\"]", "\"days\":" + days, StringComparison.Ordinal)));
    }

    [Fact]
    public void ServiceHours_OfOneDay_AreAccepted()
    {
        SecurityGroundRules rules = _f.DefaultRules();

        AcceptFirst(rules with { Hours = rules.Hours with { Days = [DayOfWeek.Sunday] } }).IsAccepted.Should().BeTrue();
    }

    [Theory]
    [InlineData(0, 3600)]
    [InlineData(240, 0)]
    public void ASessionOrApprovalLimitBelowOne_IsRefused(int maxSessionMinutes, int maxApprovalLifetimeSeconds)
    {
        DocumentAcceptance refused = AcceptFirst(_f.DefaultRules() with { MaxSessionMinutes = maxSessionMinutes, MaxApprovalLifetimeSeconds = maxApprovalLifetimeSeconds });

        refused.Reason.Should().Be(DocumentRefusal.Invalid);
        refused.Sentence.Should().Be("The longest session and the longest approval must each be at least 1 (minute, second).");
    }

    [Fact]
    public void Accepting_PutsTheSignedEnvelopeInForce()
    {
        var book = new GroundRulesBook(_f.Trust);
        SignedEnvelope signed = _f.DefaultRules().ToEnvelope().Sign(_f.Customer).Sign(_f.Vendor);
        book.CurrentEnvelope.Should().BeNull();

        book.Accept(signed).IsAccepted.Should().BeTrue();

        book.CurrentEnvelope.Should().BeSameAs(signed);
        book.CurrentHash.Should().Be(SecurityGroundRules.DocumentHash(signed));
    }

    [Fact]
    public void LimitsOfExactlyOne_AreAccepted()
    {
        AcceptFirst(_f.DefaultRules() with { MaxSessionMinutes = 1, MaxApprovalLifetimeSeconds = 1 }).IsAccepted.Should().BeTrue();
    }

    [Fact]
    public void ADiagnosticWithABadName_OrNamedTwice_IsRefused()
    {
        DocumentAcceptance badName = AcceptFirst(_f.DefaultRules() with { Diagnostics = [new DiagnosticRule("disk usage", null)] });
        DocumentAcceptance twice = AcceptFirst(_f.DefaultRules() with { Diagnostics = [new DiagnosticRule("disk-usage", null), new DiagnosticRule("disk-usage", null)] });

        badName.Reason.Should().Be(DocumentRefusal.Invalid);
        badName.Sentence.Should().StartWith("The ground rules name a diagnostic 'disk usage': A diagnostic is named by 1 to");
        twice.Reason.Should().Be(DocumentRefusal.Invalid);
        twice.Sentence.Should().Be("The ground rules name a diagnostic twice.");
        AcceptFirst(_f.DefaultRules() with { Diagnostics = [new DiagnosticRule("disk-usage", null), new DiagnosticRule("uptime", null)] }).IsAccepted.Should().BeTrue();
    }

    [Fact]
    public void RuleFor_AnOperationNotListed_OrNotPermitted_IsNull()
    {
        SecurityGroundRules rules = _f.DefaultRules() with
        {
            Operations = [new OperationRule(SupportOperation.ViewData, Permitted: false, Approval: null), new OperationRule(SupportOperation.InstallFix, Permitted: true, Approval: null)],
        };

        rules.RuleFor(SupportOperation.ViewData).Should().BeNull();
        rules.RuleFor(SupportOperation.ChangeData).Should().BeNull();
        rules.RuleFor(SupportOperation.InstallFix)!.Operation.Should().Be(SupportOperation.InstallFix);
    }
}
