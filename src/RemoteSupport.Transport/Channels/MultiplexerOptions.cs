using System.Globalization;

namespace RemoteSupport.Transport.Channels;

/// <summary>Limits and timers of a <see cref="MultiplexedConnection"/> (docs/protocol/channels.md).</summary>
public sealed class MultiplexerOptions
{
    /// <summary>The largest window the protocol allows (2^31 - 1 bytes).</summary>
    public const int MaxWindow = int.MaxValue;

    /// <summary>Gets or sets how many channels the peer may have open at once; opens beyond it are refused.</summary>
    /// <value>The default is 100.</value>
    public int MaxChannels { get; set; } = 100;

    /// <summary>
    /// Gets or sets how many bytes the peer may send on one channel before the application here
    /// consumes them: the most a channel buffers here. Default 128 KiB.
    /// </summary>
    public int ChannelWindow { get; set; } = 128 * 1024;

    /// <summary>Gets or sets how many bytes the peer may send on all channels together before they are consumed.</summary>
    /// <value>The default is 1 MiB.</value>
    public int ConnectionWindow { get; set; } = 1024 * 1024;

    /// <summary>
    /// Gets or sets how many bytes written with <c>GetSpan</c>/<c>Advance</c> a channel may buffer here
    /// before its flush waits. Default 256 KiB. (<c>WriteAsync</c> sends from the caller's own buffer and
    /// completes once the bytes are framed.)
    /// </summary>
    public int SendBufferSize { get; set; } = 256 * 1024;

    /// <summary>Gets or sets the largest message <see cref="MultiplexedChannel.ReceiveMessageAsync"/> accepts.</summary>
    /// <value>The default is 16 MiB.</value>
    public int MaxMessageSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>Gets or sets how long the connection may be silent before a keepalive ping is sent; infinite turns keepalive off.</summary>
    /// <value>The default is 30 s.</value>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how long a keepalive ping may go unanswered before the connection is closed.</summary>
    /// <value>The default is 20 s.</value>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Gets or sets the clock for keepalive and round-trip times.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal const int MinWindow = 1024;

    internal void Validate()
    {
        if (MaxChannels is < 1 or > 32767)
        {
            throw Invalid(nameof(MaxChannels), MaxChannels, "1..32767");
        }

        if (ChannelWindow < MinWindow)
        {
            throw Invalid(nameof(ChannelWindow), ChannelWindow, "at least 1024");
        }

        if (ConnectionWindow < MinWindow)
        {
            throw Invalid(nameof(ConnectionWindow), ConnectionWindow, "at least 1024");
        }

        if (SendBufferSize < MinWindow)
        {
            throw Invalid(nameof(SendBufferSize), SendBufferSize, "at least 1024");
        }

        if (MaxMessageSize < 1)
        {
            throw Invalid(nameof(MaxMessageSize), MaxMessageSize, "positive");
        }

        if (KeepAliveInterval != Timeout.InfiniteTimeSpan && KeepAliveInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval), KeepAliveInterval, "KeepAliveInterval must be positive or infinite.");
        }

        if (KeepAliveTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(KeepAliveTimeout), KeepAliveTimeout, "KeepAliveTimeout must be positive.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static ArgumentOutOfRangeException Invalid(string name, int value, string range) =>
        new(name, value, string.Create(CultureInfo.InvariantCulture, $"{name} is {value}; it must be {range}."));
}
