using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using RemoteSupport.Documents;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;

namespace RemoteSupport.Transport.Sessions;

/// <summary>Where and how a party's software is reached.</summary>
/// <param name="Transport">The transport, for example <c>tcp</c>.</param>
/// <param name="Host">The host name or address.</param>
/// <param name="Port">The port.</param>
/// <param name="Direction">Who dials: <c>console dials unit</c> or <c>unit dials console</c> (firewall-friendly).</param>
public sealed record CompatibilityEndpoint(string Transport, string Host, int Port, string Direction);

/// <summary>What the line must carry for sessions to work.</summary>
/// <param name="MinimumBandwidthBitsPerSecond">The bandwidth below which sessions are not supported.</param>
/// <param name="MaximumRoundTripMilliseconds">The round-trip time above which sessions are not supported.</param>
public sealed record LineRequirements(long MinimumBandwidthBitsPerSecond, int MaximumRoundTripMilliseconds);

/// <summary>
/// The vendor's communications compatibility specification "in writing": generated from the configured
/// connection options, so it states what the software actually does (docs/formats/compatibility.md).
/// </summary>
public sealed record CompatibilitySpecification
{
    /// <summary>The format version of this document.</summary>
    public const int FormatVersion = 1;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>The payload type of a specification the vendor signed (<c>compatibility-specification</c>, version 1): the specification "in writing".</summary>
    public static DocumentType DocumentType { get; } = new("compatibility-specification", 1);

    /// <summary>Gets the format version.</summary>
    public int Version { get; init; } = FormatVersion;

    /// <summary>Gets the vendor.</summary>
    public required string VendorId { get; init; }

    /// <summary>Gets the software and its version.</summary>
    public required string Software { get; init; }

    /// <summary>Gets when the specification was generated.</summary>
    public required DateTimeOffset GeneratedAt { get; init; }

    /// <summary>Gets the protocol versions spoken: framing, secure channel, channels, session.</summary>
    public required IReadOnlyDictionary<string, string> Protocols { get; init; }

    /// <summary>Gets the Noise protocols (cipher suites) accepted, most preferred first.</summary>
    public required IReadOnlyList<string> CipherSuites { get; init; }

    /// <summary>Gets where the software is reached.</summary>
    public required IReadOnlyList<CompatibilityEndpoint> Endpoints { get; init; }

    /// <summary>Gets what the line must carry.</summary>
    public required LineRequirements Line { get; init; }

    /// <summary>Gets the limits and timers the software applies.</summary>
    public required IReadOnlyDictionary<string, string> Limits { get; init; }

    /// <summary>Gets the runtime the software runs on.</summary>
    public required string Runtime { get; init; }

    /// <summary>Describes the software as configured by <paramref name="options"/>.</summary>
    public static CompatibilitySpecification Describe(
        string vendorId, SupportConnectionOptions options, IReadOnlyList<CompatibilityEndpoint> endpoints, LineRequirements line, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        FramingOptions framing = options.Framing ?? new FramingOptions();
        MultiplexerOptions channels = options.Channels ?? new MultiplexerOptions();
        IReadOnlyList<string> suites = options.Secure.Cipher switch
        {
            SecureChannelCipher.AesGcm => [.. SecureConnection.SupportedProtocols.Where(p => p.Contains("AESGCM", StringComparison.Ordinal))],
            SecureChannelCipher.ChaChaPoly => [.. SecureConnection.SupportedProtocols.Where(p => p.Contains("ChaChaPoly", StringComparison.Ordinal))],
            _ => SecureConnection.SupportedProtocols,
        };
        return new CompatibilitySpecification
        {
            VendorId = vendorId,
            Software = "RemoteSupport " + typeof(CompatibilitySpecification).Assembly.GetName().Version?.ToString(3),
            GeneratedAt = (timeProvider ?? TimeProvider.System).GetUtcNow(),
            Protocols = Preflight.Protocols,
            CipherSuites = suites,
            Endpoints = endpoints,
            Line = line,
            Limits = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["max-frame-payload-bytes"] = framing.MaxFramePayload.ToString(CultureInfo.InvariantCulture),
                ["handshake-timeout-seconds"] = Seconds(options.Secure.HandshakeTimeout),
                ["idle-timeout-seconds"] = Seconds(framing.IdleTimeout),
                ["keepalive-interval-seconds"] = Seconds(channels.KeepAliveInterval),
                ["keepalive-timeout-seconds"] = Seconds(channels.KeepAliveTimeout),
                ["channel-window-bytes"] = channels.ChannelWindow.ToString(CultureInfo.InvariantCulture),
                ["max-channels"] = channels.MaxChannels.ToString(CultureInfo.InvariantCulture),
                ["max-message-bytes"] = channels.MaxMessageSize.ToString(CultureInfo.InvariantCulture),
            },
            Runtime = $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})",
        };
    }

    /// <summary>Renders the specification as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// The specification as a document for the vendor to sign (<see cref="SignedEnvelope.Sign"/> with the vendor's key): the
    /// payload is the UTF-8 of <see cref="ToJson"/>, from which <see cref="ToMarkdown"/> and <see cref="ToText"/> are rendered.
    /// </summary>
    /// <returns>The unsigned envelope.</returns>
    public SignedEnvelope ToEnvelope() => SignedEnvelope.Create(DocumentType, Encoding.UTF8.GetBytes(ToJson()));

    /// <summary>Reads the specification of a signed envelope (check its signature with <c>TrustStore.Verify</c> and the vendor's key first).</summary>
    /// <returns>The specification.</returns>
    /// <param name="envelope">The signed specification.</param>
    /// <exception cref="EnvelopeFormatException">The envelope holds another document, or its payload is not a specification.</exception>
    public static CompatibilitySpecification FromEnvelope(SignedEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        if (envelope.PayloadType != DocumentType.PayloadType)
        {
            throw new EnvelopeFormatException($"The envelope holds a '{envelope.PayloadType}', not a '{DocumentType.PayloadType}'.");
        }

        try
        {
            return FromJson(Encoding.UTF8.GetString(envelope.Payload.Span));
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new EnvelopeFormatException("The compatibility specification is malformed: " + ex.Message);
        }
    }

    /// <summary>Reads a specification rendered by <see cref="ToJson"/>.</summary>
    public static CompatibilitySpecification FromJson(string json) =>
        JsonSerializer.Deserialize<CompatibilitySpecification>(json, Json) ?? throw new FormatException("An empty compatibility specification.");

    /// <summary>Renders the specification as a Markdown document to hand over in writing.</summary>
    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# Communications compatibility specification: {VendorId}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"Format version {Version}. Generated {GeneratedAt:yyyy-MM-dd HH:mm}Z from the configuration of {Software}.\n\n");
        text.Append("## Line\n\n");
        text.Append(CultureInfo.InvariantCulture, $"- Bandwidth: at least {Line.MinimumBandwidthBitsPerSecond / 1000.0:0.#} kbit/s\n");
        text.Append(CultureInfo.InvariantCulture, $"- Round-trip time: at most {Line.MaximumRoundTripMilliseconds} ms\n\n");
        text.Append("## Endpoints\n\n| transport | host | port | who dials |\n|---|---|---|---|\n");
        foreach (CompatibilityEndpoint endpoint in Endpoints)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {endpoint.Transport} | {endpoint.Host} | {endpoint.Port} | {endpoint.Direction} |\n");
        }

        text.Append("\n## Protocols\n\n| protocol | version |\n|---|---|\n");
        foreach ((string name, string version) in Protocols)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {name} | {version} |\n");
        }

        text.Append("\n## Cipher suites (Noise)\n\n");
        foreach (string suite in CipherSuites)
        {
            text.Append(CultureInfo.InvariantCulture, $"- `{suite}`\n");
        }

        text.Append("\n## Limits and timers\n\n| setting | value |\n|---|---|\n");
        foreach ((string name, string value) in Limits)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {name} | {value} |\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"\n## Runtime\n\n{Runtime}\n");
        return text.ToString();
    }

    /// <summary>Renders the specification as plain text (the Markdown without its markup).</summary>
    public string ToText() => ToMarkdown().Replace("`", string.Empty, StringComparison.Ordinal).Replace("# ", string.Empty, StringComparison.Ordinal);

    private static string Seconds(TimeSpan span) =>
        span == Timeout.InfiniteTimeSpan ? "none" : span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}
