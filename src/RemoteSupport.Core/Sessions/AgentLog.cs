using Microsoft.Extensions.Logging;

namespace RemoteSupport.Sessions;

/// <summary>The agent's log messages (source-generated: nothing is formatted when the level is off).</summary>
internal static partial class AgentLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Session {SessionId} opened by {Vendor} (technician key {KeyId}) on {UnitId}, protocol version {Version}.")]
    public static partial void SessionOpened(ILogger logger, string sessionId, string vendor, string keyId, string unitId, int version);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Session refused for {Vendor} (technician key {KeyId}): {Code}: {Sentence}")]
    public static partial void SessionRefused(ILogger logger, string vendor, string keyId, string code, string sentence);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Session {SessionId} request {RequestId}: {Operation} {Target}: {Outcome}")]
    public static partial void Operation(ILogger logger, string sessionId, string requestId, string operation, string target, string outcome);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Session {SessionId} {Ending} after {Seconds} s with {Operations} operations; charged {Charges}.")]
    public static partial void SessionClosed(ILogger logger, string sessionId, string ending, long seconds, int operations, string charges);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "The {What} given in the agent's options is not taken: {Sentence}")]
    public static partial void OptionsDocumentSuperseded(ILogger logger, string what, string sentence);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Session {SessionId}: the vendor's compatibility specification was {Outcome}: {Sentence}")]
    public static partial void SpecificationReceived(ILogger logger, string sessionId, string outcome, string sentence);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "The unit does not offer itself to the vendor: {Sentence}")]
    public static partial void UnitWithdrawn(ILogger logger, string sentence);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Console host {HostId}: the fleet's routes were not written (retrying): {Sentence}")]
    public static partial void RoutesNotWritten(ILogger logger, string hostId, string sentence);
}
