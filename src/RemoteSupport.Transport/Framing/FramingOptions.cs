namespace RemoteSupport.Transport.Framing;

/// <summary>Limits and timeouts of a <see cref="FramedConnection"/> (docs/protocol/framing.md).</summary>
public sealed class FramingOptions
{
    /// <summary>Gets or sets the largest frame payload this side accepts, advertised in its preface.</summary>
    /// <value>The default value is 65536 (64 KiB), within [1024, 16777216].</value>
    public int MaxFramePayload { get; set; } = FrameCodec.DefaultMaxFramePayload;

    /// <summary>Gets or sets how long the peer's preface may take to arrive.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long the connection may stay silent between frames; <see cref="Timeout.InfiniteTimeSpan"/> disables it.</summary>
    /// <value>The default value is 2 minutes.</value>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Gets or sets the slowest rate, in bytes per second, at which a started frame may arrive; 0 disables it.</summary>
    /// <value>The default value is 240 bytes per second.</value>
    public double MinDataRate { get; set; } = 240;

    /// <summary>Gets or sets the time a started frame gets before <see cref="MinDataRate"/> applies; its header must arrive within it.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan MinDataRateGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the clock for every timeout.</summary>
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        if (MaxFramePayload is < FrameCodec.MinMaxFramePayload or > FrameCodec.HardMaxFramePayload)
        {
            Error.ArgumentOutOfRange(nameof(MaxFramePayload), $"MaxFramePayload must be within [{FrameCodec.MinMaxFramePayload}, {FrameCodec.HardMaxFramePayload}].");
        }

        CheckTimeout(HandshakeTimeout, nameof(HandshakeTimeout));
        CheckTimeout(IdleTimeout, nameof(IdleTimeout));
        CheckTimeout(MinDataRateGracePeriod, nameof(MinDataRateGracePeriod));
        if (MinDataRate < 0 || double.IsNaN(MinDataRate) || double.IsInfinity(MinDataRate))
        {
            Error.ArgumentOutOfRange(nameof(MinDataRate), "MinDataRate must be 0 (off) or a positive number of bytes per second.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void CheckTimeout(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            Error.ArgumentOutOfRange(name, $"{name} must be positive or Timeout.InfiniteTimeSpan.");
        }
    }
}
