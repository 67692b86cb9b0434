using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Authorization;

/// <summary>The authorization book's decisions, each with its reason and sentence (the survivors of a mutation run on Authorization/).</summary>
public sealed class AuthorizationBookTests : IDisposable
{
    private static readonly DateTimeOffset From = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Until = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset During = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
    private readonly ConsentFixture _f = new(From.AddTicks(-1)); // the clock only moves forward: tests start before the validity
    private readonly AuthorizationBook _book;
    private readonly string _rules;

    public AuthorizationBookTests()
    {
        _book = new AuthorizationBook(_f.Trust, _f.Time);
        _rules = _f.GroundRules.CurrentHash!;
    }

    private void During_() => _f.Time.SetUtcNow(During);

    public void Dispose() => _f.Dispose();

    private ServiceAuthorization Authorization(params string[] units) => _f.AuthorizationFor(_rules) with { Units = units.Length == 0 ? [ConsentFixture.Unit] : units };

    private DocumentAcceptance Accept(ServiceAuthorization authorization) => _book.Accept(authorization.ToEnvelope().Sign(_f.Customer));

    private DocumentAcceptance Revoke(string reason = "contract ended") =>
        _book.Revoke(new AuthorizationRevocation { AuthorizationId = "auth-2026", CustomerId = "fabrikam", Reason = reason }.ToEnvelope().Sign(_f.Customer));

    private AuthorizationCheck Check(string unit = ConsentFixture.Unit, string? rules = null) => _book.Check("contoso", _f.Technician.PublicKey, unit, rules ?? _rules);

    [Fact]
    public void NullArguments_AreMisuse()
    {
        FluentActions.Invoking(() => new AuthorizationBook(null!)).Should().Throw<ArgumentNullException>().WithParameterName("trust");
        FluentActions.Invoking(() => _book.Accept(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
        FluentActions.Invoking(() => _book.Revoke(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
        FluentActions.Invoking(() => _book.Check("contoso", null!, "unit-7", _rules)).Should().Throw<ArgumentNullException>().WithParameterName("vendorKey");
        FluentActions.Invoking(() => ServiceAuthorization.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
        FluentActions.Invoking(() => AuthorizationRevocation.FromEnvelope(null!)).Should().Throw<ArgumentNullException>().WithParameterName("envelope");
    }

    [Fact]
    public void Check_IsAuthorizedFromValidFrom_UpToButNotIncludingValidUntil()
    {
        Accept(Authorization()).IsAccepted.Should().BeTrue();

        AuthorizationCheck before = Check(); // the clock starts one tick before ValidFrom
        _f.Time.SetUtcNow(From);
        AuthorizationCheck first = Check();
        _f.Time.SetUtcNow(Until.AddTicks(-1));
        AuthorizationCheck last = Check();
        _f.Time.SetUtcNow(Until);
        AuthorizationCheck after = Check();

        before.Should().Match<AuthorizationCheck>(c => !c.IsAuthorized && c.Reason == AuthorizationFailure.OutsideValidity);
        first.Should().Be(new AuthorizationCheck(true, AuthorizationFailure.None, "Authorized by auth-2026."));
        last.IsAuthorized.Should().BeTrue();
        after.IsAuthorized.Should().BeFalse();
        after.Reason.Should().Be(AuthorizationFailure.OutsideValidity);
        after.Sentence.Should().StartWith("Authorization auth-2026 ");
    }

    [Fact]
    public void Check_NamesWhatIsMissing_TheRevocation_AndTheGroundRulesInForce()
    {
        During_();
        AuthorizationCheck none = Check();
        Accept(Authorization()).IsAccepted.Should().BeTrue();
        AuthorizationCheck otherUnit = Check("unit-8");
        AuthorizationCheck otherRules = _book.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, null);
        AuthorizationCheck amended = _book.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, "amended-hash");
        Revoke().IsAccepted.Should().BeTrue();
        AuthorizationCheck revoked = Check();

        none.Should().Be(new AuthorizationCheck(false, AuthorizationFailure.NotAuthorized,
            $"No authorization names vendor contoso with key {_f.Technician.PublicKey.KeyId} for unit unit-7."));
        otherUnit.Reason.Should().Be(AuthorizationFailure.NotAuthorized);
        otherRules.Should().Be(new AuthorizationCheck(false, AuthorizationFailure.GroundRulesMismatch,
            $"Authorization auth-2026 rests on ground rules {_rules}, not on those in force (none)."));
        amended.Sentence.Should().Be($"Authorization auth-2026 rests on ground rules {_rules}, not on those in force (amended-hash).");
        revoked.Should().Be(new AuthorizationCheck(false, AuthorizationFailure.Revoked, "Authorization auth-2026 was revoked by the customer: contract ended"));
    }

    [Fact]
    public void AWildcardUnit_CoversEveryUnit_InCheckAndInOffersService()
    {
        During_();
        Accept(Authorization("*")).IsAccepted.Should().BeTrue();

        Check("unit-99").IsAuthorized.Should().BeTrue();
        _book.OffersService("unit-99", _rules, out string why).Should().BeTrue();
        why.Should().Be("Authorized by auth-2026.");
    }

    [Fact]
    public void OffersService_SaysWhyNot_ForEachReason()
    {
        bool none = _book.OffersService(ConsentFixture.Unit, _rules, out string noneWhy);
        Accept(Authorization()).IsAccepted.Should().BeTrue();
        bool early = _book.OffersService(ConsentFixture.Unit, _rules, out _); // one tick before ValidFrom
        _f.Time.SetUtcNow(From);
        bool atStart = _book.OffersService(ConsentFixture.Unit, _rules, out _);
        During_();
        bool offered = _book.OffersService(ConsentFixture.Unit, _rules, out string offeredWhy);
        bool otherUnit = _book.OffersService("unit-8", _rules, out string otherUnitWhy);
        bool otherRules = _book.OffersService(ConsentFixture.Unit, "another-hash", out string otherRulesWhy);
        _f.Time.SetUtcNow(Until);
        bool expired = _book.OffersService(ConsentFixture.Unit, _rules, out string expiredWhy);
        Revoke("stopped").IsAccepted.Should().BeTrue();
        bool revoked = _book.OffersService(ConsentFixture.Unit, _rules, out string revokedWhy);

        (none, noneWhy).Should().Be((false, "No customer authorization names unit unit-7."));
        (offered, offeredWhy).Should().Be((true, "Authorized by auth-2026."));
        (otherUnit, otherUnitWhy).Should().Be((false, "No customer authorization names unit unit-8."));
        (otherRules, otherRulesWhy).Should().Be((false, "Authorization auth-2026 rests on ground rules other than those in force."));
        expired.Should().BeFalse();
        expiredWhy.Should().StartWith("Authorization auth-2026 ");
        atStart.Should().BeTrue();
        early.Should().BeFalse();
        (revoked, revokedWhy).Should().Be((false, "Authorization auth-2026 was revoked by the customer: stopped"));
    }

    [Fact]
    public void Accept_RefusesAnEmptyOrBackwardsAuthorization_AndAnIdOnceRevoked_WithTheirSentences()
    {
        During_();
        DocumentAcceptance noUnits = Accept(Authorization() with { Units = [] });
        DocumentAcceptance noKeys = Accept(Authorization() with { VendorKeys = [] });
        Accept(Authorization()).IsAccepted.Should().BeTrue();
        Revoke("fraud").IsAccepted.Should().BeTrue();
        DocumentAcceptance again = Accept(Authorization());

        noUnits.Should().Match<DocumentAcceptance>(a => a.Reason == DocumentRefusal.Invalid && a.Sentence == "The authorization must name vendor keys, units and a validity that ends after it starts.");
        noKeys.Reason.Should().Be(DocumentRefusal.Invalid);
        again.Reason.Should().Be(DocumentRefusal.Superseded);
        again.Sentence.Should().Be("Authorization auth-2026 was revoked by the customer (fraud); a revocation is permanent, so a new authorization needs a new id.");
    }

    [Fact]
    public void ACustomer_RevokesOnlyItsOwnAuthorizations()
    {
        During_();
        using var other = PartyIdentity.Create("northwind", PartyRole.Customer);
        _f.Trust.Trust("northwind", PartyRole.Customer, other.PublicKey);
        Accept(Authorization()).IsAccepted.Should().BeTrue();

        DocumentAcceptance foreign = _book.Revoke(new AuthorizationRevocation { AuthorizationId = "auth-2026", CustomerId = "northwind", Reason = "mine now" }.ToEnvelope().Sign(other));

        foreign.Should().Match<DocumentAcceptance>(a => a.Reason == DocumentRefusal.OtherCustomer && a.Sentence == "A customer can revoke only its own authorizations.");
        Check().IsAuthorized.Should().BeTrue("the foreign revocation changed nothing");
    }

    [Fact]
    public void ABookKeptByTheContractState_RefusesDirectAcceptsAndRevocations()
    {
        During_();
        _book.IsKept = true;

        FluentActions.Invoking(() => Accept(Authorization())).Should().Throw<InvalidOperationException>()
            .WithMessage("This authorization book is kept by the unit's contract state: accept authorizations and revocations through it (SupportAgent.AcceptAsync), so they are journaled and survive a restart.");
        FluentActions.Invoking(() => Revoke()).Should().Throw<InvalidOperationException>();
        Check().IsAuthorized.Should().BeFalse();
    }
}
