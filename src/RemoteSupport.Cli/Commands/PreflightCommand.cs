using System.CommandLine;
using System.Net;
using RemoteSupport.Identities;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport preflight</c>: the customer's check of the vendor's endpoint before the first session.</summary>
internal static class PreflightCommand
{
    public static Command Build(CliConsole console)
    {
        Argument<string> endpoint = Opt.File("ENDPOINT", "The vendor's endpoint, HOST:PORT.");
        Option<string> key = Opt.Required("--key", "The unit's key file (role unit): the identity the handshake proves.");
        Option<string> trust = Opt.Required("--trust", "A trust file holding the vendor's keys.");
        Option<string> vendor = Opt.Required("--vendor", "The vendor expected at the endpoint.");
        Option<string> role = new("--peer-role") { Description = "The role of the vendor's key at the endpoint (default technician).", DefaultValueFactory = _ => "technician" };
        Option<long> bandwidth = new("--min-bandwidth") { Description = "The bandwidth the line must reach, bit/s (default 64000).", DefaultValueFactory = _ => 64_000 };
        Option<int> rtt = new("--max-rtt") { Description = "The round trip the line must stay under, ms (default 800).", DefaultValueFactory = _ => 800 };
        Option<int> sample = new("--sample-bytes") { Description = "How many bytes to send to measure throughput (default 1 MiB).", DefaultValueFactory = _ => 1 << 20 };
        Command command = Opt.Command(
            "preflight", "Check the vendor's endpoint: reachable, the secure handshake with the vendor's key, protocol versions, round trip and throughput.",
            "rsupport preflight support.contoso.example:7443 --key unit.key --trust unit.trust --vendor contoso", endpoint, key, trust, vendor, role, bandwidth, rtt, sample);

        var passphrase = new PassphraseOptions(command, "opens the unit's key");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string target = parse.GetValue(endpoint)!;
            EndPoint address = Parse(target);
            using PartyIdentity unit = await Keys.LoadAsync(parse.GetValue(key)!, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            var secure = new SecureChannelOptions { Identity = unit, TrustStore = await TrustFile.LoadAsync(parse.GetValue(trust)!, null, cancellationToken).ConfigureAwait(false) };
            secure.AcceptedPeers.Add(new ExpectedPeer(parse.GetValue(vendor), Roles.Parse(parse.GetValue(role)!)));
            PreflightReport result = await Preflight.RunAsync(new TcpDialer(address), new SupportConnectionOptions { Secure = secure },
                new LineRequirements(parse.GetValue(bandwidth), parse.GetValue(rtt)), parse.GetValue(sample), cancellationToken).ConfigureAwait(false);
            var report = new Report()
                .Field("endpoint", "endpoint", target)
                .Field("reachable", "reachable", result.Reachable)
                .Field("handshake", "secure handshake", result.HandshakeSucceeded)
                .Field("cipherSuite", "cipher suite", result.CipherSuite)
                .Field("roundTripMs", "round trip (ms)", result.RoundTripTime?.TotalMilliseconds)
                .Field("throughputBitsPerSecond", "throughput (bit/s)", result.ThroughputBitsPerSecond is { } bps ? Math.Round(bps) : null)
                .Field("versionDifferences", "version differences", new System.Text.Json.Nodes.JsonArray([.. result.VersionDifferences.Select(d => (System.Text.Json.Nodes.JsonNode)d)]))
                .Field("problems", "problems", new System.Text.Json.Nodes.JsonArray([.. result.Problems.Select(p => (System.Text.Json.Nodes.JsonNode)p)]))
                .Field("passed", "passed", result.Passed);
            report.Refusal = result.Passed ? null : $"{target}: {CliConsole.Sentence(result.Problems.Count > 0 ? result.Problems[0] : "the preflight did not pass")}";
            return console.Done(report, result.Passed ? ExitCode.Ok : ExitCode.Refused);
        });
        return command;
    }

    private static EndPoint Parse(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out int port) || port is < 1 or > 65535)
        {
            throw new CliException(ExitCode.Usage, $"ENDPOINT '{text}' is not HOST:PORT.");
        }

        string host = text[..colon].Trim('[', ']');
        return IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
    }
}
