using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RemoteSupport.Sessions;

/// <summary>
/// The names RemoteSupport reports under: a <see cref="Meter"/> and an <see cref="ActivitySource"/>
/// both named <see cref="Name"/> (docs/protocol/session.md, "Telemetry").
/// </summary>
public static class SessionTelemetry
{
    /// <summary>The meter's and the activity source's name.</summary>
    public const string Name = "RemoteSupport.Sessions";

    internal static readonly ActivitySource Activities = new(Name, "1");

    internal static readonly Meter Meter = new(Name, "1");

    /// <summary>Sessions by outcome: opened, refused.</summary>
    internal static readonly Counter<long> Sessions = Meter.CreateCounter<long>("remotesupport.sessions", "{session}", "Sessions asked for, by outcome.");

    /// <summary>Consent decisions by operation and outcome.</summary>
    internal static readonly Counter<long> ConsentDecisions = Meter.CreateCounter<long>("remotesupport.consent.decisions", "{decision}", "Operations decided, by outcome.");

    /// <summary>Charges recorded, in minor units, by currency and kind.</summary>
    internal static readonly Counter<long> Charges = Meter.CreateCounter<long>("remotesupport.charges", "{minor-unit}", "Charges recorded, in minor units.");

    /// <summary>Bytes carried by sessions, by direction.</summary>
    internal static readonly Counter<long> Bytes = Meter.CreateCounter<long>("remotesupport.bytes", "By", "Bytes of session messages and streams, by direction.");

    /// <summary>Counts <paramref name="bytes"/> sent or received, of session messages or of a stream (a pushed fix).</summary>
    internal static void CountBytes(long bytes, bool sent, bool stream) =>
        Bytes.Add(bytes, new KeyValuePair<string, object?>("direction", sent ? "sent" : "received"), new KeyValuePair<string, object?>("kind", stream ? "stream" : "message"));

    /// <summary>Session durations.</summary>
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("remotesupport.session.duration", "s", "How long sessions lasted.");
}
