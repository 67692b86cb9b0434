using RemoteSupport.Identities;

namespace RemoteSupport.Sessions;

/// <summary>
/// What a session runs over: an ordered, reliable, authenticated stream of messages between the
/// console and the agent. RemoteSupport.Transport's <c>MultiplexedChannel</c> over a secure
/// connection is one; an integrator may supply another.
/// </summary>
public interface ISessionChannel
{
    /// <summary>Sends one message.</summary>
    ValueTask SendMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default);

    /// <summary>Receives the next message, or <see langword="null"/> when the peer ended the stream.</summary>
    /// <exception cref="IOException">The connection dropped.</exception>
    ValueTask<byte[]?> ReceiveMessageAsync(CancellationToken cancellationToken = default);
}

/// <summary>The other side of a session as the secure channel authenticated it.</summary>
/// <param name="PartyId">The party (the vendor, for an agent).</param>
/// <param name="Role">The role the key is trusted for (a technician, for an agent).</param>
/// <param name="Key">The key the peer proved it holds.</param>
public sealed record SessionPeer(string PartyId, PartyRole Role, PartyKey Key);

/// <summary>
/// Bulk transfers beside a session's message channel (a fix package streams on its own channel so the
/// session's messages keep moving). RemoteSupport.Transport provides it over a multiplexed connection.
/// </summary>
public interface ISessionStreams
{
    /// <summary>Console side: opens a stream named <paramref name="name"/> to the agent, for writing.</summary>
    ValueTask<Stream> OpenStreamAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Agent side: accepts the next stream the console opened, for reading, or <see langword="null"/> when none will come.</summary>
    ValueTask<(string Name, Stream Stream)?> AcceptStreamAsync(CancellationToken cancellationToken = default);
}
