using System.Text.Json;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Sessions;

/// <summary>One message of the session protocol (docs/protocol/session.md); <see cref="Type"/> says which fields apply.</summary>
internal sealed record SessionMessage
{
    public const string ProtocolName = "remotesupport-session";
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    public required string Type { get; init; }

    public string? Protocol { get; init; }

    public IReadOnlyList<int>? Versions { get; init; }

    public int? Version { get; init; }

    public IReadOnlyList<string>? Capabilities { get; init; }

    public string? Software { get; init; }

    public string? SessionId { get; init; }

    public string? UnitId { get; init; }

    public string? CustomerId { get; init; }

    public string? RequestId { get; init; }

    public SupportOperation? Operation { get; init; }

    public string? Root { get; init; }

    public string? Path { get; init; }

    public string? Owner { get; init; }

    public string? Reason { get; init; }

    public string? Ticket { get; init; }

    public string? Diagnostic { get; init; }

    public byte[]? Content { get; init; }

    public bool? Succeeded { get; init; }

    public string? Code { get; init; }

    public string? Sentence { get; init; }

    public string? HashBefore { get; init; }

    public string? HashAfter { get; init; }

    public string? Output { get; init; }

    public string? ApprovalText { get; init; }

    public string? Receipt { get; init; }

    public string? Stream { get; init; }

    public bool? List { get; init; }

    public IReadOnlyList<RemoteSupport.DataFiles.DataFileEntry>? Entries { get; init; }

    public bool? Truncated { get; init; }

    public long? PackageLength { get; init; }

    public long? ContentLength { get; init; }

    public string? InstallReceipt { get; init; }

    public IReadOnlyList<string>? Requests { get; init; }

    public string? Document { get; init; }

    public byte[] ToBytes() => DocumentJson.Serialize(this);

    /// <exception cref="SessionProtocolException">The bytes are not a session message.</exception>
    public static SessionMessage Parse(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize<SessionMessage>(bytes, DocumentJson.Options)
                ?? throw new SessionProtocolException("protocol-error", "An empty session message.");
        }
        catch (JsonException ex)
        {
            throw new SessionProtocolException("protocol-error", "A session message is not valid: " + ex.Message);
        }
    }
}

/// <summary>The session protocol was broken or the session was refused; <see cref="Code"/> names why.</summary>
public class SessionProtocolException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="SessionProtocolException"/> class.</summary>
    /// <param name="code">A stable code (docs/protocol/session.md), for example <c>version-mismatch</c>.</param>
    /// <param name="message">A sentence naming the problem.</param>
    public SessionProtocolException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>Gets the stable code of the problem.</summary>
    public string Code { get; }
}

/// <summary>
/// A session refused at its start. Both sides see the same: the agent throws it from
/// <see cref="SupportAgent.RunSessionAsync(ISessionChannel, ISessionStreams?, SessionPeer, CancellationToken)"/> (and the host reports it)
/// after telling the console, and the console's open throws it with the code and sentence it was told.
/// </summary>
public sealed class SessionRefusedException : SessionProtocolException
{
    /// <summary>Initializes a new instance of the <see cref="SessionRefusedException"/> class.</summary>
    /// <param name="code">The refusal's code (<c>not-authorized</c>, <c>hello-timeout</c>, <c>version-mismatch</c>, …).</param>
    /// <param name="sentence">The agent's sentence.</param>
    public SessionRefusedException(string code, string sentence)
        : base(code, $"The session was refused ({code}): {sentence}")
    {
        Sentence = sentence;
    }

    /// <summary>Gets the agent's sentence, as the console was told it.</summary>
    public string Sentence { get; }
}
