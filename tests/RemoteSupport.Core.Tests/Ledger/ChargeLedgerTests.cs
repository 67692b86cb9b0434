using RemoteSupport.GroundRules;
using RemoteSupport.Ledger;
using RemoteSupport.Tests.Consent;

namespace RemoteSupport.Tests.Ledger;

/// <summary>The rate card (no store); the ledger on each store is <see cref="ChargeLedgerContract{TBacking}"/>.</summary>
public sealed class ChargeLedgerTests : IDisposable
{
    private readonly ConsentFixture _f = new();
    public void Dispose() => _f.Dispose();

    private TollChargePolicy Policy => _f.Rules.TollCharges; // EUR, setup 500, 120/min, 60 s increment, minimum 500

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 60)]
    [InlineData(59, 60)]
    [InlineData(60, 60)]
    [InlineData(61, 120)]
    [InlineData(119.2, 120)]
    [InlineData(120, 120)]
    [InlineData(3600, 3600)]
    public void BilledSeconds_RoundUpToWholeIncrements(double seconds, long billed)
    {
        new RateCard(Policy).BilledSeconds(TimeSpan.FromSeconds(seconds)).Should().Be(billed);
    }

    [Theory]
    [InlineData(1, 500)] // 60 s at 120/min = 120, below the minimum of 500
    [InlineData(300, 600)] // 5 minutes
    [InlineData(301, 720)] // into the sixth increment
    [InlineData(3600, 7200)]
    public void ConnectTime_IsRateTimesBilledMinutes_AtLeastTheMinimum(int seconds, long amount)
    {
        new RateCard(Policy).ConnectTimeMinor(TimeSpan.FromSeconds(seconds)).Should().Be(amount);
    }

    [Theory]
    [InlineData(ChargeRounding.HalfUp, 8)]
    [InlineData(ChargeRounding.HalfEven, 8)]
    [InlineData(ChargeRounding.Up, 8)]
    [InlineData(ChargeRounding.Down, 7)]
    public void Rounding_FollowsTheDocumentedRule(ChargeRounding rounding, long expected)
    {
        // 15-second increments at 30/min: 1 increment = 7.5 minor units.
        var policy = Policy with { PerMinuteMinor = 30, BillingIncrementSeconds = 15, MinimumMinor = 0 };

        new RateCard(policy, rounding).ConnectTimeMinor(TimeSpan.FromSeconds(10)).Should().Be(expected);
    }
}
