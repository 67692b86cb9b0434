using System.Text.Json;
using System.Text.Json.Serialization;

namespace RemoteSupport.Transport.Fleet;

/// <summary>One message of the presence channel of a standing connection (docs/protocol/fleet.md, version 1).</summary>
internal sealed record PresenceMessage
{
    public const string Channel = "presence";
    public const string SessionChannel = "session";
    public const int Version = 1;
    public const int MaxBytes = 64 * 1024;

    public const string Announce = "announce";
    public const string Welcome = "welcome";
    public const string GoAway = "goaway";
    public const string Heartbeat = "heartbeat";
    public const string HeartbeatAck = "heartbeat-ack";
    public const string Withdraw = "withdraw";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        MaxDepth = 8,
    };

    public required string Type { get; init; }

    public int? Protocol { get; init; }

    public string? CustomerId { get; init; }

    public string? UnitId { get; init; }

    public string? AgentVersion { get; init; }

    public IReadOnlyList<string>? Capabilities { get; init; }

    public string? HostId { get; init; }

    public int? HeartbeatSeconds { get; init; }

    public long? Sequence { get; init; }

    public string? Reason { get; init; }

    public int? RetryAfterSeconds { get; init; }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <exception cref="FormatException">Not a presence message, or over <see cref="MaxBytes"/>.</exception>
    public static PresenceMessage Parse(byte[] bytes)
    {
        if (bytes.Length > MaxBytes)
        {
            throw new FormatException($"A presence message is at most {MaxBytes} bytes.");
        }

        try
        {
            return JsonSerializer.Deserialize<PresenceMessage>(bytes, Json) ?? throw new FormatException("An empty presence message.");
        }
        catch (JsonException ex)
        {
            throw new FormatException("Not a presence message: " + ex.Message, ex);
        }
    }
}
