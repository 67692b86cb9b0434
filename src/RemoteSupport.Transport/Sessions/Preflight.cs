using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Framing;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Sessions;

/// <summary>What a preflight check found (docs/formats/compatibility.md).</summary>
public sealed record PreflightReport
{
    /// <summary>Gets a value indicating whether the endpoint accepted a connection.</summary>
    public required bool Reachable { get; init; }

    /// <summary>Gets how long the connection took to set up.</summary>
    public TimeSpan? ConnectTime { get; init; }

    /// <summary>Gets a value indicating whether the secure handshake succeeded (both identities proven).</summary>
    public bool HandshakeSucceeded { get; init; }

    /// <summary>Gets the Noise protocol the handshake ran.</summary>
    public string? CipherSuite { get; init; }

    /// <summary>Gets the protocol versions the endpoint speaks.</summary>
    public IReadOnlyDictionary<string, string>? PeerProtocols { get; init; }

    /// <summary>Gets what differs between the two sides' protocol versions (empty when they match).</summary>
    public IReadOnlyList<string> VersionDifferences { get; init; } = [];

    /// <summary>Gets the median round-trip time of five pings.</summary>
    public TimeSpan? RoundTripTime { get; init; }

    /// <summary>Gets the measured throughput of the sample transfer, in bits per second.</summary>
    public double? ThroughputBitsPerSecond { get; init; }

    /// <summary>Gets the problems found, each a sentence; empty when the line meets the requirements.</summary>
    public required IReadOnlyList<string> Problems { get; init; }

    /// <summary>Gets a value indicating whether the check passed.</summary>
    public bool Passed => Problems.Count == 0;
}

/// <summary>
/// The preflight check a customer runs against the vendor's endpoint before relying on it:
/// reachability, the secure handshake, protocol versions, round-trip time and a throughput sample.
/// The vendor's endpoint answers with <see cref="AnswerAsync"/>.
/// </summary>
public static class Preflight
{
    private const string ChannelName = "preflight";

    /// <summary>The protocol versions this build speaks, by name.</summary>
    public static IReadOnlyDictionary<string, string> Protocols { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["framing"] = $"{FrameCodec.MajorVersion}.{FrameCodec.MinorVersion}",
        ["secure-channel"] = SecureConnection.ProtocolVersion.ToString(CultureInfo.InvariantCulture),
        ["channels"] = MultiplexedConnection.ProtocolVersion.ToString(CultureInfo.InvariantCulture),
        ["session"] = string.Join(", ", SupportSession.SupportedVersions),
    };

    /// <summary>Runs the check: dials with <paramref name="dialer"/>, then measures.</summary>
    /// <param name="dialer">How to reach the vendor's endpoint.</param>
    /// <param name="options">This side's identity and trust (the vendor's key must be trusted).</param>
    /// <param name="line">What the line must carry.</param>
    /// <param name="sampleBytes">The size of the throughput sample.</param>
    /// <param name="cancellationToken">Stops the check.</param>
    public static async Task<PreflightReport> RunAsync(
        IConnectionDialer dialer, SupportConnectionOptions options, LineRequirements line, int sampleBytes = 1024 * 1024, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dialer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(line);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleBytes);
        var problems = new List<string>();
        long started = Stopwatch.GetTimestamp();
        TransportConnection connection;
        try
        {
            connection = await dialer.DialAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
        {
            return new PreflightReport { Reachable = false, Problems = ["The endpoint is not reachable: " + ex.Message] };
        }

        TimeSpan connectTime = Stopwatch.GetElapsedTime(started);
        SecureConnection secure;
        MultiplexedConnection channels;
        try
        {
            (secure, channels) = await options.ConnectAsync(connection, initiator: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SecureChannelException or FramingException or IOException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            return new PreflightReport { Reachable = true, ConnectTime = connectTime, Problems = ["The secure handshake failed: " + ex.Message] };
        }

        await using (channels.ConfigureAwait(false))
        {
            var rtts = new List<TimeSpan>();
            for (int i = 0; i < 5; i++)
            {
                rtts.Add(await channels.PingAsync(cancellationToken).ConfigureAwait(false));
            }

            rtts.Sort();
            TimeSpan rtt = rtts[2];
            MultiplexedChannel channel = await channels.OpenChannelAsync(ChannelName, cancellationToken).ConfigureAwait(false);
            byte[] versions = await channel.ReceiveMessageAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new IOException("The endpoint ended the preflight before naming its versions.");
            Dictionary<string, string> peer = JsonSerializer.Deserialize<Dictionary<string, string>>(versions) ?? [];
            List<string> differences = [.. Protocols.Keys.Union(peer.Keys).Order(StringComparer.Ordinal)
                .Where(name => !peer.TryGetValue(name, out string? theirs) || !Protocols.TryGetValue(name, out string? ours) || theirs != ours)
                .Select(name => $"{name}: this side {Protocols.GetValueOrDefault(name, "none")}, the endpoint {peer.GetValueOrDefault(name, "none")}")];
            problems.AddRange(differences.Select(d => "Protocol versions differ: " + d + "."));

            long sending = Stopwatch.GetTimestamp();
            byte[] block = new byte[64 * 1024];
            for (long sent = 0; sent < sampleBytes; sent += block.Length)
            {
                await channel.Output.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, sampleBytes - sent)), cancellationToken).ConfigureAwait(false);
            }

            await channel.Output.CompleteAsync().ConfigureAwait(false);
            _ = await channel.ReceiveMessageAsync(cancellationToken).ConfigureAwait(false); // the endpoint's count: all arrived
            double seconds = Math.Max(Stopwatch.GetElapsedTime(sending).TotalSeconds, 1e-6);
            double throughput = sampleBytes * 8.0 / seconds;
            if (throughput < line.MinimumBandwidthBitsPerSecond)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"Throughput {throughput / 1000:0.#} kbit/s is below the required {line.MinimumBandwidthBitsPerSecond / 1000.0:0.#} kbit/s."));
            }

            if (rtt.TotalMilliseconds > line.MaximumRoundTripMilliseconds)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"Round-trip time {rtt.TotalMilliseconds:0.#} ms is above the allowed {line.MaximumRoundTripMilliseconds} ms."));
            }

            await channel.Input.CompleteAsync().ConfigureAwait(false);
            return new PreflightReport
            {
                Reachable = true,
                ConnectTime = connectTime,
                HandshakeSucceeded = true,
                CipherSuite = secure.ProtocolName,
                PeerProtocols = peer,
                VersionDifferences = differences,
                RoundTripTime = rtt,
                ThroughputBitsPerSecond = throughput,
                Problems = problems,
            };
        }
    }

    /// <summary>Answers one preflight check on the vendor's endpoint: the handshake, the versions, the throughput sample.</summary>
    public static async Task AnswerAsync(TransportConnection connection, SupportConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        (_, MultiplexedConnection channels) = await options.ConnectAsync(connection, initiator: false, cancellationToken).ConfigureAwait(false);
        await using (channels.ConfigureAwait(false))
        {
            MultiplexedChannel? channel = await channels.AcceptChannelAsync(cancellationToken).ConfigureAwait(false);
            if (channel is null || channel.Name != ChannelName)
            {
                return;
            }

            await channel.SendMessageAsync(JsonSerializer.SerializeToUtf8Bytes(Protocols), cancellationToken).ConfigureAwait(false);
            long received = 0;
            while (true)
            {
                System.IO.Pipelines.ReadResult read = await channel.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
                received += read.Buffer.Length;
                channel.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            await channel.SendMessageAsync(BitConverter.GetBytes(received), cancellationToken).ConfigureAwait(false);
            await channel.Output.CompleteAsync().ConfigureAwait(false);
            await SupportAgentHost.CloseAsync(channels, options.CloseTimeout, cancellationToken).ConfigureAwait(false);
        }
    }
}
