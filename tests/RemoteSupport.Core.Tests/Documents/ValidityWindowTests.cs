using RemoteSupport.Authorization;
using RemoteSupport.Documents;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Documents;

public sealed class ValidityWindowTests : IDisposable
{
    private readonly ConsentFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Theory]
    [InlineData(0.4, "less than 1 s")]
    [InlineData(12, "12 s")]
    [InlineData(45 * 60, "45 min")]
    [InlineData(3 * 3600 + 5 * 60 + 9, "3 h 5 min")]
    [InlineData(2 * 86400 + 3 * 3600 + 59, "2 d 3 h")]
    [InlineData(2 * 86400 + 59, "2 d")]
    public void Span_SaysTheTwoLargestUnits(double seconds, string expected)
    {
        ValidityWindow.Span(TimeSpan.FromSeconds(seconds)).Should().Be(expected);
    }

    [Fact]
    public void AnExpiredAuthorization_SaysHowLongAgo_AndWhatTimeItIsNow()
    {
        _f.Time.SetUtcNow(new DateTimeOffset(2027, 1, 3, 2, 30, 0, TimeSpan.Zero)); // the authorization ended on 2027-01-01 00:00Z

        AuthorizationCheck check = _f.Authorizations.Check("contoso", _f.Technician.PublicKey, ConsentFixture.Unit, _f.GroundRules.CurrentHash);

        check.Reason.Should().Be(AuthorizationFailure.OutsideValidity);
        check.Sentence.Should().Be("Authorization auth-2026 expired 2 d 2 h ago (valid until 2027-01-01T00:00:00.0000000+00:00; now 2027-01-03T02:30:00.0000000+00:00).");
    }

    [Fact]
    public void ADocumentNotValidYet_SaysWhenItStarts()
    {
        DateTimeOffset from = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

        ValidityWindow.Outside("Approval a-1", from, from.AddHours(1), from.AddMinutes(-5))
            .Should().Be("Approval a-1 is not valid yet: it starts in 5 min (valid from 2026-12-01T08:00:00.0000000+00:00; now 2026-12-01T07:55:00.0000000+00:00).");
    }
}
