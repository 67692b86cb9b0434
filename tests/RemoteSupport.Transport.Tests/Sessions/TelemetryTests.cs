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

public sealed class TelemetryTests
{
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
            FixPushResult pushed = await connection.Session.PushFixAsync(package, "metered", world.Token);
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
