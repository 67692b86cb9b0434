namespace RemoteSupport.Sessions;

/// <summary>
/// The session protocol both sides speak (docs/protocol/session.md): its message types, the capabilities,
/// and sending and receiving one message, counted for telemetry. The agent and the console use only this.
/// </summary>
internal static class SessionWire
{
    /// <summary>The capability of a console that takes a view larger than the agent's MaxViewBytes on a channel of its own.</summary>
    public const string ViewStreamCapability = "view-stream";

    /// <summary>The capability of a console that holds the vendor's signed compatibility specification and hands it over when the agent's welcome requests it.</summary>
    public const string SpecificationCapability = "compatibility-specification";

    /// <summary>What a version-1 agent carries.</summary>
    public static readonly string[] Capabilities = ["list-data", "view-data", "change-data", "run-diagnostic", "install-fix", ViewStreamCapability];

    // Message types.
    public const string Hello = "hello";
    public const string Welcome = "welcome";
    public const string Refused = "refused";
    public const string Request = "request";
    public const string PendingApproval = "pending-approval";
    public const string ViewStream = "view-stream";
    public const string OperationResult = "result";
    public const string Heartbeat = "heartbeat";
    public const string Close = "close";
    public const string Receipt = "receipt";
    public const string Specification = "specification";

    public static ValueTask SendAsync(ISessionChannel channel, SessionMessage message, CancellationToken cancellationToken)
    {
        byte[] bytes = message.ToBytes();
        SessionTelemetry.CountBytes(bytes.Length, sent: true, stream: false);
        return channel.SendMessageAsync(bytes, cancellationToken);
    }

    public static async Task<SessionMessage?> ReceiveAsync(ISessionChannel channel, CancellationToken cancellationToken)
    {
        byte[]? bytes = await channel.ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return null;
        }

        SessionTelemetry.CountBytes(bytes.Length, sent: false, stream: false);
        return SessionMessage.Parse(bytes);
    }
}
