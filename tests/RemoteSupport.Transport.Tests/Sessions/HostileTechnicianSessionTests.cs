using System.Text;
using System.Text.Json;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Channels;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;

namespace RemoteSupport.Transport.Tests.Sessions;

/// <summary>Attacks a hostile technician can try on a unit's agent over TCP (issue 15), each named after its attack.</summary>
public sealed class HostileTechnicianSessionTests
{
    [Fact]
    public async Task ApprovalAskedForOneDiagnostic_RunsExactlyThatOne_AndNamesItToTheApprover()
    {
        await using SessionWorld world = await SessionWorld.StartAsync(rules: r => r with
        {
            Diagnostics = [new DiagnosticRule("disk", new ApprovalRequirement([new ApproverGroup("IT", "fabrikam", PartyRole.Approver, null, 1)]))],
        });
        bool exported = false;
        world.AgentOptions.Diagnostics["export-customer-db"] = _ => { exported = true; return Task.FromResult("all rows"); };
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        var pending = new List<string>();
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);
        session.ApprovalPending = pending.Add;

        DiagnosticResult disk = await session.RunDiagnosticAsync("disk", "quick read-only disk check", world.Token);
        DiagnosticResult export = await session.RunDiagnosticAsync("export-customer-db", "quick read-only disk check", world.Token);

        disk.Succeeded.Should().BeTrue(disk.Sentence);
        disk.Output.Should().Be("disk: 93% used");
        world.Approver.Asked.Should().ContainSingle().Which.Diagnostic.Should().Be("disk");
        pending.Should().ContainSingle().Which.Should().Contain("RUN the diagnostic \"disk\"");
        export.Succeeded.Should().BeFalse();
        export.Code.Should().Be("diagnostic-not-permitted");
        exported.Should().BeFalse();
    }

    [Fact]
    public async Task AnUnregisteredDiagnostic_IsRefused_WithoutAskingTheApprover()
    {
        await using SessionWorld world = await SessionWorld.StartAsync(rules: r => r with
        {
            Diagnostics = [new DiagnosticRule("format-disk", new ApprovalRequirement([new ApproverGroup("IT", "fabrikam", PartyRole.Approver, null, 1)]))],
        });
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);

        DiagnosticResult result = await session.RunDiagnosticAsync("format-disk", cancellationToken: world.Token);

        result.Code.Should().Be("unknown-diagnostic");
        result.Reason.Should().Be(OperationFailure.UnknownDiagnostic);
        world.Approver.Asked.Should().BeEmpty();
    }

    [Fact]
    public async Task ASessionPastMaxSessionMinutes_IsEndedByTheUnit_AndMeteredToTheLimit()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);
        (await session.RunDiagnosticAsync("disk", cancellationToken: world.Token)).Succeeded.Should().BeTrue();

        world.Clock.Advance(TimeSpan.FromMinutes(300)); // the ground rules allow 240

        var ended = await FluentActions.Awaiting(() => session.RunDiagnosticAsync("disk", cancellationToken: world.Token)).Should().ThrowAsync<SessionProtocolException>();
        ended.Which.Code.Should().Be("session-time-limit");
        ended.Which.Message.Should().Contain("240 minutes");
        await channel.Output.CompleteAsync(); // the console's side ends, so the agent closes in order
        await world.WaitForSessionsAsync(1);
        SessionReceipt receipt = SessionReceipt.FromEnvelope(world.Receipts.Single()!);
        receipt.Ending.Should().Be("time-limit");
        (receipt.ClosedAt - receipt.OpenedAt).Should().Be(TimeSpan.FromMinutes(240), "metered to the limit, never past it");
        receipt.Operations.Should().ContainSingle(o => o.Succeeded);
    }

    [Fact]
    public async Task ViewingAFileLargerThanAViewCarries_FromAConsoleWithoutStreams_IsRefused_AndTheSessionGoesOn()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        await File.WriteAllBytesAsync(Path.Combine(world.DataRoot, "ledger", "big.db"), new byte[13 * 1024 * 1024]);
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;
        using SupportSession session = await SupportSession.OpenAsync(channel, cancellationToken: world.Token);

        DataFileViewResult big = await session.ViewAsync("finance", "ledger/big.db", "fabrikam", "look at the big ledger", world.Token);
        DiagnosticResult after = await session.RunDiagnosticAsync("disk", cancellationToken: world.Token);

        big.Succeeded.Should().BeFalse();
        big.Code.Should().Be("file-too-large");
        big.Reason.Should().Be(OperationFailure.FileTooLarge);
        big.Sentence.Should().Contain("13631488 bytes").And.Contain("8388608");
        after.Succeeded.Should().BeTrue("the session survives");
        (await world.AuditEventsAsync()).Should().NotContain(e => e.Kind == RemoteSupport.Audit.AuditEventKind.DataFileViewed, "nothing was sent, so nothing is audited as viewed");
    }

    [Fact]
    public async Task ViewingALargeFile_StreamsOnItsOwnChannel_AndIsAuditedForWhatWasSent()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        byte[] big = new byte[13 * 1024 * 1024 + 5];
        Random.Shared.NextBytes(big);
        await File.WriteAllBytesAsync(Path.Combine(world.DataRoot, "ledger", "big.db"), big);
        await using SupportConsoleConnection connection = await world.OpenSessionAsync();
        using var received = new MemoryStream();

        DataFileViewResult result = await connection.Session.ViewToAsync("finance", "ledger/big.db", "fabrikam", "look at the big ledger", received, world.Token);
        DataFileViewResult small = await connection.Session.ViewAsync("finance", "ledger/2026.csv", "fabrikam", "and the small one", world.Token);

        result.Succeeded.Should().BeTrue(result.Sentence);
        received.ToArray().Should().Equal(big);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(big));
        result.Hash.Should().Be(sha);
        RemoteSupport.Audit.AuditEvent viewed = (await world.AuditEventsAsync()).First(e => e.Kind == RemoteSupport.Audit.AuditEventKind.DataFileViewed);
        viewed.Details["bytes-sent"].Should().Be(big.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        viewed.Details["complete"].Should().Be("true");
        viewed.Details["hash-before"].Should().Be(sha);
        small.Succeeded.Should().BeTrue("the session goes on after a streamed view");
        Encoding.UTF8.GetString(small.Content!).Should().Contain("4711,12.50");
    }

    [Fact]
    public async Task AStreamedViewCutOffMidway_IsAuditedForThePartSent()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        await File.WriteAllBytesAsync(Path.Combine(world.DataRoot, "ledger", "big.db"), new byte[13 * 1024 * 1024]);
        var (connection, channel) = await world.DialAsync();
        using SupportSession session = await SupportSession.OpenAsync(channel, new MultiplexedSessionStreams(connection), world.Token);

        // The console takes 1 MiB, then its line drops.
        await FluentActions.Awaiting(() => session.ViewToAsync("finance", "ledger/big.db", "fabrikam", "look", new FailingAfter(1024 * 1024), world.Token))
            .Should().ThrowAsync<IOException>();
        await connection.AbortAsync("the line dropped");
        await world.WaitForSessionsAsync(1);

        RemoteSupport.Audit.AuditEvent viewed = (await world.AuditEventsAsync()).Single(e => e.Kind == RemoteSupport.Audit.AuditEventKind.DataFileViewed);
        viewed.Details["complete"].Should().Be("false");
        long sent = long.Parse(viewed.Details["bytes-sent"], System.Globalization.CultureInfo.InvariantCulture);
        sent.Should().BeGreaterThanOrEqualTo(1024 * 1024).And.BeLessThan(13 * 1024 * 1024);
        SessionReceipt.FromEnvelope(world.Receipts.Single()!).Ending.Should().Be("dropped");
    }

    /// <summary>A destination that takes <c>limit</c> bytes, then fails as a full disk would.</summary>
    private sealed class FailingAfter(long limit) : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            Length + buffer.Length > limit ? throw new IOException("The console's disk is full.") : base.WriteAsync(buffer, cancellationToken);
    }

    [Fact]
    public async Task ATrustedButUnauthorizedKey_IsRefusedBeforeItsHello()
    {
        await using SessionWorld world = await SessionWorld.StartAsync(authorize: false);
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;

        // No hello is sent: the refusal comes anyway.
        JsonElement refusal = await ReceiveAsync(channel, world.Token);

        refusal.GetProperty("type").GetString().Should().Be("refused");
        refusal.GetProperty("code").GetString().Should().Be("not-authorized");
    }

    [Fact]
    public async Task AConsoleThatNeverSendsItsHello_IsRefusedAtTheHelloDeadline()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var (connection, channel) = await world.DialAsync();
        await using var _ = connection;

        Task<JsonElement> refusal = ReceiveAsync(channel, world.Token);
        for (int i = 0; i < 500 && !refusal.IsCompleted; i++)
        {
            world.Clock.Advance(TimeSpan.FromSeconds(11)); // past the default 10 s, each time, until the agent's deadline is set and passes
            await Task.WhenAny(refusal, Task.Delay(10, world.Token));
        }

        (await refusal).GetProperty("code").GetString().Should().Be("hello-timeout");
    }

    [Fact]
    public async Task AConnectionThatOpensNoSessionChannel_IsCutOffAtTheHelloDeadline()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        TransportConnection raw = await new TcpDialer(world.EndPoint).DialAsync(world.Token);
        (_, MultiplexedConnection mux) = await world.ConsoleConnection().ConnectAsync(raw, initiator: true, world.Token);
        await using MultiplexedConnection held = mux;

        for (int i = 0; i < 500 && world.Failures.Count == 0; i++)
        {
            world.Clock.Advance(TimeSpan.FromSeconds(11));
            await Task.Delay(10, world.Token);
        }

        world.Failures.Should().ContainSingle().Which.Should().BeOfType<SessionProtocolException>().Which.Code.Should().Be("hello-timeout");
    }

    [Fact]
    public async Task ConnectionsBeyondTheCap_AreClosedAtOnce_WithARefusalNamingTheLimit()
    {
        await using SessionWorld world = await SessionWorld.StartAsync(agentConnection: o => o.MaxConnections = 2);
        await using SupportConsoleConnection first = await world.OpenSessionAsync();
        await using SupportConsoleConnection second = await world.OpenSessionAsync();

        await FluentActions.Awaiting(world.OpenSessionAsync).Should().ThrowAsync<Exception>();

        world.Failures.Should().ContainSingle().Which.Should().BeOfType<SessionProtocolException>()
            .Which.Message.Should().Contain("at most 2 connections").And.Contain("MaxConnections");
        ((SessionProtocolException)world.Failures[0]).Code.Should().Be("too-many-connections");
    }

    [Fact]
    public async Task HandshakesBeyondTheCap_AreClosedAtOnce_WithARefusalNamingTheLimit()
    {
        await using SessionWorld world = await SessionWorld.StartAsync(agentConnection: o => o.MaxPendingHandshakes = 1);
        // A connection that never sends its preface holds the one handshake slot.
        await using TransportConnection stalled = await new TcpDialer(world.EndPoint).DialAsync(world.Token);
        await using TransportConnection second = await new TcpDialer(world.EndPoint).DialAsync(world.Token);

        for (int i = 0; i < 500 && world.Failures.Count == 0; i++)
        {
            await Task.Delay(10, world.Token);
        }

        world.Failures.Should().ContainSingle().Which.Should().BeOfType<SessionProtocolException>()
            .Which.Code.Should().Be("too-many-handshakes");
        world.Failures[0].Message.Should().Contain("at most 1 handshakes");
    }

    [Fact]
    public async Task AnAgentGivenAnotherCustomersBooks_RefusesToStart()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        SupportAgentParts o = world.AgentOptions;
        var books = new GroundRulesBook(world.UnitTrust) { CustomerId = "globex" };

        FluentActions.Invoking(() => new SupportAgent(new SupportAgentParts
        {
            UnitId = o.UnitId, CustomerId = "fabrikam", Identity = o.Identity, Authorizations = o.Authorizations, GroundRules = books,
            Gate = o.Gate, DataFiles = o.DataFiles, Audit = o.Audit, Ledger = o.Ledger,
        })).Should().Throw<ArgumentException>().WithMessage("*customer globex*");
    }

    [Fact]
    public async Task AnAgentForAnotherCustomer_RefusesSessionsUnderThisCustomersGroundRules()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        SupportAgentParts o = world.AgentOptions;
        var agent = new SupportAgent(new SupportAgentParts
        {
            UnitId = o.UnitId, CustomerId = "globex", Identity = o.Identity, Authorizations = o.Authorizations, GroundRules = o.GroundRules,
            Gate = o.Gate, DataFiles = o.DataFiles, Audit = o.Audit, Ledger = o.Ledger, TimeProvider = o.TimeProvider,
        });
        var pair = new InMemoryMessagePair();

        var thrown = await FluentActions.Awaiting(() => agent.RunSessionAsync(pair.Agent, null, new SessionPeer("contoso", PartyRole.Technician, world.Technician.PublicKey), world.Token))
            .Should().ThrowAsync<SessionRefusedException>();

        thrown.Which.Code.Should().Be("not-authorized");
        JsonElement refusal = JsonDocument.Parse(pair.SentByAgent.Single()).RootElement;
        refusal.GetProperty("code").GetString().Should().Be("not-authorized");
        refusal.GetProperty("sentence").GetString().Should().Contain("customer fabrikam").And.Contain("globex");
    }

    private static async Task<JsonElement> ReceiveAsync(MultiplexedChannel channel, CancellationToken cancellationToken)
    {
        byte[] message = await channel.ReceiveMessageAsync(cancellationToken) ?? throw new IOException("The channel ended.");
        return JsonDocument.Parse(message).RootElement.Clone();
    }

    /// <summary>The agent's side of a session channel that records what the agent sends and gives it nothing.</summary>
    private sealed class InMemoryMessagePair
    {
        public List<string> SentByAgent { get; } = [];

        public ISessionChannel Agent => new Recorder(this);

        private sealed class Recorder(InMemoryMessagePair pair) : ISessionChannel
        {
            public ValueTask SendMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
            {
                pair.SentByAgent.Add(Encoding.UTF8.GetString(message.Span));
                return ValueTask.CompletedTask;
            }

            public ValueTask<byte[]?> ReceiveMessageAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<byte[]?>(null);
        }
    }
}
