using RemoteSupport.GroundRules;

namespace RemoteSupport.Ledger;

/// <summary>How a fractional amount of minor units is rounded.</summary>
public enum ChargeRounding
{
    /// <summary>Half a minor unit or more rounds up (away from zero).</summary>
    HalfUp = 0,

    /// <summary>Half rounds to the even neighbour (banker's rounding).</summary>
    HalfEven = 1,

    /// <summary>Any fraction rounds up.</summary>
    Up = 2,

    /// <summary>Any fraction is dropped.</summary>
    Down = 3,
}

/// <summary>
/// Turns a session's connect time into exact charges (docs/formats/ledger.md): the connect time is
/// rounded up to whole billing increments; the connect-time amount is
/// <c>round(billedSeconds × perMinute / 60)</c> with the policy's rounding, and at least the minimum;
/// the call setup fee is a line of its own.
/// </summary>
public sealed class RateCard
{
    private readonly TollChargePolicy _policy;

    /// <summary>Creates the rate card of a ground rules toll charge policy.</summary>
    public RateCard(TollChargePolicy policy, ChargeRounding rounding = ChargeRounding.HalfUp)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.BillingIncrementSeconds < 1)
        {
            Error.ArgumentOutOfRange(nameof(policy), "The billing increment is at least one second.");
        }

        _policy = policy;
        Rounding = rounding;
    }

    /// <summary>Gets the rounding rule.</summary>
    public ChargeRounding Rounding { get; }

    /// <summary>Gets the currency (ISO 4217).</summary>
    public string Currency => _policy.Currency;

    /// <summary>Gets the setup fee per call, in minor units.</summary>
    public long SetupFeeMinor => _policy.SetupFeeMinor;

    /// <summary>Gets the billed seconds for a connect time: whole increments, rounded up; zero stays zero.</summary>
    public long BilledSeconds(TimeSpan connectTime)
    {
        if (connectTime <= TimeSpan.Zero)
        {
            return 0;
        }

        long seconds = (long)Math.Ceiling(connectTime.TotalSeconds);
        long increment = _policy.BillingIncrementSeconds;
        return checked((seconds + increment - 1) / increment * increment);
    }

    /// <summary>Gets the connect-time amount in minor units: rate × billed minutes, rounded, at least the minimum.</summary>
    public long ConnectTimeMinor(TimeSpan connectTime)
    {
        long billed = BilledSeconds(connectTime);
        decimal exact = billed * (decimal)_policy.PerMinuteMinor / 60m;
        long rounded = Round(exact);
        return Math.Max(rounded, _policy.MinimumMinor);
    }

    private long Round(decimal value) => Rounding switch
    {
        ChargeRounding.HalfEven => (long)Math.Round(value, MidpointRounding.ToEven),
        ChargeRounding.Up => (long)Math.Ceiling(value),
        ChargeRounding.Down => (long)Math.Floor(value),
        _ => (long)Math.Round(value, MidpointRounding.AwayFromZero),
    };
}
