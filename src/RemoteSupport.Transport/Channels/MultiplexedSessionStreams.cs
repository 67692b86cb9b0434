using RemoteSupport.Sessions;

namespace RemoteSupport.Transport.Channels;

/// <summary>
/// A session's bulk streams (a pushed fix package) as channels of a <see cref="MultiplexedConnection"/>,
/// beside the session's message channel: flow control keeps the transfer from starving the session.
/// Each stream is one way: the console writes, the agent reads.
/// </summary>
public sealed class MultiplexedSessionStreams(MultiplexedConnection connection) : ISessionStreams
{
    /// <inheritdoc/>
    public async ValueTask<Stream> OpenStreamAsync(string name, CancellationToken cancellationToken = default)
    {
        MultiplexedChannel channel = await connection.OpenChannelAsync(name, cancellationToken).ConfigureAwait(false);
        await channel.Input.CompleteAsync().ConfigureAwait(false); // one way: nothing comes back on it
        return channel.Output.AsStream();
    }

    /// <inheritdoc/>
    public async ValueTask<(string Name, Stream Stream)?> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        MultiplexedChannel? channel = await connection.AcceptChannelAsync(cancellationToken).ConfigureAwait(false);
        if (channel is null)
        {
            return null;
        }

        await channel.Output.CompleteAsync().ConfigureAwait(false); // one way: this side only reads
        return (channel.Name, channel.Input.AsStream());
    }
}
