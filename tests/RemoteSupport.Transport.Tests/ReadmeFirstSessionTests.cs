using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;
using RemoteSupport.Tests;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Transport.Transports;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests;

/// <summary>The README's first support session, compiled and run here, and compared with the README text.</summary>
public class ReadmeFirstSessionTests
{
    private const string ThisFile = "tests/RemoteSupport.Transport.Tests/ReadmeFirstSessionTests.cs";

    [Fact]
    public async Task FirstSession_ViewsWithAnApproval_InstallsTheFix_AndGetsTheReceipt()
    {
        Console.Lines.Clear();
        await FirstSession().WaitAsync(TimeSpan.FromSeconds(60));

        Console.Lines.Should().Equal("viewed: True (26 bytes), fix installed: True, receipt: closed, 2 operations");
    }

    [Fact]
    public void FirstSession_IsTheCodeInTheReadme_InAtMost80Lines()
    {
        (string[] imports, string[] statements, string[] classes) = ReadmeBlocks.Read("<!-- first-session -->");

        statements.Should().Equal(ReadmeBlocks.Between(ThisFile, "// README first session: begin", "// README first session: end", indent: 8));
        classes.Should().Equal(ReadmeBlocks.Between(ThisFile, "// README first session class: begin", "// README first session class: end", indent: 4));
        ReadmeBlocks.ImportsInclude(ThisFile, imports);
        (imports.Length + 1 + statements.Length + 1 + classes.Length).Should().BeLessThanOrEqualTo(80, "the whole program, identities and documents included");
    }

    private static async Task FirstSession()
    {
        // README first session: begin
        // The parties' keys, and what the unit trusts.
        using var vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        using var customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        using var approver = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        using var unit = PartyIdentity.Create("fabrikam", PartyRole.Unit);
        var unitTrusts = new TrustStore();
        foreach (PartyIdentity party in new[] { vendor, technician, customer, approver })
        {
            unitTrusts.Trust(party.PartyId, party.Role, party.PublicKey);
        }
        // The contract's documents: ground rules both sign, the customer's authorization, the vendor's fix root.
        SignedEnvelope rules = new SecurityGroundRules
        {
            Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin", MaxSessionMinutes = 120,
            Operations = [new(SupportOperation.ViewData, true, new([new("IT", "fabrikam", PartyRole.Approver, null, 1)])), new(SupportOperation.InstallFix, true, null)],
            DataScopes = [new("finance", ["**"], "fabrikam")], Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"),
            MaxApprovalLifetimeSeconds = 3600, TollCharges = new("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
        }.ToEnvelope().Sign(customer).Sign(vendor);
        SignedEnvelope authorization = new ServiceAuthorization
        {
            AuthorizationId = "auth-1", CustomerId = "fabrikam", VendorId = "contoso", Units = ["unit-7"], VendorKeys = [technician.PublicKey.ToString()],
            GroundRulesHash = SecurityGroundRules.DocumentHash(rules), ValidFrom = DateTimeOffset.UtcNow.AddMinutes(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30),
        }.ToEnvelope().Sign(customer);
        SignedEnvelope fixRoot = new VendorRoot { VendorId = "contoso", Version = 1, Threshold = 1, ReleaseKeys = [vendor.PublicKey.ToString()],
            Expires = DateTimeOffset.UtcNow.AddYears(1) }.ToEnvelope().Sign(vendor);
        // The unit: a data file, the installed product, and its agent with one state folder.
        string folder = Directory.CreateTempSubdirectory("remotesupport-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "finance"));
        Directory.CreateDirectory(Path.Combine(folder, "fix", "bin"));
        File.WriteAllText(Path.Combine(folder, "finance", "totals.csv"), "account,amount\n4711,12.50\n");
        File.WriteAllText(Path.Combine(folder, "fix", "bin", "app.dll"), "ledger 2.4.0");
        HostApplicationBuilder unitHost = Host.CreateApplicationBuilder();
        unitHost.Services.AddRemoteSupportAgent(agent =>
        {
            agent.UnitId = "unit-7"; agent.CustomerId = "fabrikam"; agent.Identity = unit; agent.Trust = unitTrusts;
            agent.GroundRules = rules; agent.Authorizations.Add(authorization); agent.ApprovalPrompt = new ItApprover(approver);
            agent.StateFolder = Path.Combine(folder, "state"); agent.DataRoots["finance"] = Path.Combine(folder, "finance");
            agent.Fixes.InstallRoot = Directory.CreateDirectory(Path.Combine(folder, "app")).FullName;
            agent.Fixes.Product = "ledger"; agent.Fixes.InstalledVersion = "2.3.0"; agent.Fixes.VendorRoot = fixRoot;
        }, host => host.Listen = "127.0.0.1:0");
        using IHost unitApp = unitHost.Build();
        await unitApp.StartAsync();
        // The vendor's console trusts the unit's key, dials it, views the file, pushes a signed fix, closes.
        var consoleTrusts = new TrustStore();
        consoleTrusts.Trust("fabrikam", PartyRole.Unit, unit.PublicKey);
        var supportConsole = new SupportConsole(new SupportConsoleOptions { Identity = technician, Trust = consoleTrusts, Customers = { "fabrikam" } });
        await using (SupportConsoleConnection connection = await supportConsole.ConnectAsync(
            new TcpDialer(unitApp.Services.GetRequiredService<SupportAgentService>().BoundEndPoint!)))
        {
            DataFileViewResult view = await connection.Session.ViewAsync("finance", "totals.csv", "fabrikam", "ticket 1: totals look wrong");
            await FixPackage.BuildAsync(Path.Combine(folder, "fix"), new FixManifest
            {
                PackageId = "ledger-2.4.0", Product = "ledger", Version = "2.4.0", AppliesTo = new("ledger", "2.0.0", "3.0.0", ["*"], null, null),
                CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddDays(30), ReleaseNotes = "Totals round correctly.", Files = [],
            }, [vendor], Path.Combine(folder, "ledger-2.4.0.rsfix"));
            FixPushResult fix = await connection.Session.PushFixAsync(Path.Combine(folder, "ledger-2.4.0.rsfix"), "ticket 1: rounding fix");
            SessionReceipt receipt = SessionReceipt.FromEnvelope(await connection.Session.CloseAsync());
            Console.WriteLine($"viewed: {view.Succeeded} ({view.Content?.Length} bytes), fix installed: {fix.Succeeded}, receipt: {receipt.Ending}, {receipt.Operations.Count} operations");
        }
        await unitApp.StopAsync();
        // README first session: end
    }

    // README first session class: begin
    sealed class ItApprover(PartyIdentity approver) : IApprovalPrompt
    {
        public ValueTask<SignedEnvelope?> RequestApprovalAsync(ApprovalRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<SignedEnvelope?>(Approval.For(request, DateTimeOffset.UtcNow).ToEnvelope().Sign(approver));
    }
    // README first session class: end

    /// <summary>Stands in for <see cref="System.Console"/> inside this class so the program's output is captured.</summary>
    private static class Console
    {
        public static List<string> Lines { get; } = [];

        public static void WriteLine(string line) => Lines.Add(line);
    }
}
