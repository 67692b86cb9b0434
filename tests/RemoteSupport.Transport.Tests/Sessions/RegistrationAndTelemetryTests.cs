using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Sessions;

public sealed class RegistrationAndTelemetryTests
{
    [Fact]
    public async Task AddRemoteSupportAgentAndConsole_ResolveWorkingServices_ThatRunASession()
    {
        await using SessionWorld world = await SessionWorld.StartAsync();
        var services = new ServiceCollection();
        services.AddRemoteSupportAgent((_, registration) =>
        {
            registration.Agent = world.AgentOptions;
            var secure = new SecureChannelOptions { Identity = world.Unit, TrustStore = world.UnitTrust, StaticKey = NoiseStaticKey.Generate() };
            secure.AcceptedPeers.Add(new ExpectedPeer("contoso", PartyRole.Technician));
            registration.Connection = new SupportConnectionOptions { Secure = secure };
        });
        services.AddRemoteSupportConsole((_, registration) => registration.Connection = world.ConsoleConnection());
        await using ServiceProvider provider = services.BuildServiceProvider();
        await provider.GetRequiredService<IAsyncStartupValidator>().ValidateAsync(world.Token); // what a host does when it starts

        await using TcpConnectionListener listener = TcpConnectionListener.Listen(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        Task serving = provider.GetRequiredService<SupportAgentHost>().RunAsync(listener, cancellationToken: world.Token);
        SupportConsole console = provider.GetRequiredService<SupportConsole>();
        await using (SupportConsoleConnection connection = await console.ConnectAsync(new TcpDialer(listener.BoundEndPoint), world.Token))
        {
            (await connection.Session.RunDiagnosticAsync("disk", cancellationToken: world.Token)).Output.Should().Be("disk: 93% used");
            SessionReceipt.FromEnvelope(await connection.Session.CloseAsync(world.Token)).Ending.Should().Be("closed");
        }

        await listener.DisposeAsync();
        await serving.WaitAsync(world.Token);
    }

    [Fact]
    public async Task AMisconfiguredAgent_FailsAtStart_NamingEachProblem()
    {
        using var technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        var services = new ServiceCollection();
        services.AddRemoteSupportAgent((_, registration) =>
            registration.Connection = new SupportConnectionOptions { Secure = new SecureChannelOptions { Identity = technician } });
        using ServiceProvider provider = services.BuildServiceProvider();

        var failure = (await FluentActions.Awaiting(() => provider.GetRequiredService<IAsyncStartupValidator>().ValidateAsync(CancellationToken.None))
            .Should().ThrowAsync<OptionsValidationException>()).Which;

        failure.Failures.Should().Contain(f => f.Contains("technician key; this side needs a unit key"))
            .And.Contain(f => f.Contains("TrustStore is not set"))
            .And.Contain(f => f.Contains("AcceptedPeers is empty"))
            .And.Contain(f => f.Contains("StaticKey is not set"))
            .And.Contain(f => f.StartsWith("Agent is not set"));
    }

    [Fact]
    public async Task Metrics_CountSessionsConsentDecisionsAndCharges()
    {
        var measurements = new List<(string Instrument, long Value, string Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SessionTelemetry.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
            }
        });
        listener.Start();

        await using SessionWorld world = await SessionWorld.StartAsync();
        string package = await world.BuildFixAsync("2.5.0");
        long packageLength = new FileInfo(package).Length;
        await using (SupportConsoleConnection connection = await world.OpenSessionAsync())
        {
            SessionResult pushed = await connection.Session.PushFixAsync(package, "metered", world.Token);
            pushed.Succeeded.Should().BeTrue(pushed.Sentence);
            world.Approver.Next = ScriptedApprover.Answer.Refuse;
            await connection.Session.ViewAsync("finance", "ledger/2026.csv", "fabrikam", "look", world.Token);
            await connection.Session.RunDiagnosticAsync("disk", cancellationToken: world.Token);
            await connection.Session.CloseAsync(world.Token);
        }

        await world.WaitForSessionsAsync(1);
        lock (measurements)
        {
            measurements.Should().Contain(("remotesupport.sessions", 1, "outcome=opened"));
            measurements.Should().Contain(("remotesupport.consent.decisions", 1, "operation=view-data,outcome=approval-refused"));
            measurements.Should().Contain(("remotesupport.consent.decisions", 1, "operation=run-diagnostic,outcome=none"));
            measurements.Should().Contain(("remotesupport.charges", 500, "currency=EUR,kind=call-setup"));
            measurements.Where(m => m.Instrument == "remotesupport.bytes" && m.Tags == "direction=sent,kind=message").Sum(m => m.Value).Should().BeGreaterThan(0);
            measurements.Should().Contain(("remotesupport.bytes", packageLength, "direction=sent,kind=stream"), "the console counts the package it pushed");
            measurements.Where(m => m.Instrument == "remotesupport.bytes" && m.Tags == "direction=received,kind=stream").Sum(m => m.Value)
                .Should().BeGreaterThanOrEqualTo(packageLength, "the agent counts the package as it arrives");
        }
    }
}
