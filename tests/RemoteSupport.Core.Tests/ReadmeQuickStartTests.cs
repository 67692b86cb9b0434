using System.Text;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests;

/// <summary>The README's quick start, compiled here and compared with the README text.</summary>
public class ReadmeQuickStartTests
{
    [Fact]
    public void QuickStart_RunsAndVerifiesTheJointlySignedDocument()
    {
        Console.Lines.Clear();
        QuickStart();

        Console.Lines.Should().HaveCount(2);
        Console.Lines[0].Should().MatchRegex("^vendor key ([A-Z2-7]{4}-){7}[A-Z2-7]{4}$");
        Console.Lines[1].Should().StartWith("Valid ground-rules-draft signed by contoso/vendor").And.Contain("fabrikam/customer");
    }

    [Fact]
    public void QuickStart_IsTheCodeInTheReadme()
    {
        (string[] imports, string[] statements, string[] classes) = ReadmeBlocks.Read("<!-- quick-start -->");

        statements.Should().Equal(ReadmeBlocks.Between(ThisFile, "// README quick start: begin", "// README quick start: end", indent: 8));
        classes.Should().BeEmpty();
        ReadmeBlocks.ImportsInclude(ThisFile, imports);
    }

    [Fact]
    public async Task Consent_RunsAndGrantsTheChangeAfterTheApproval()
    {
        Console.Lines.Clear();
        await ConsentExample();

        Console.Lines.Should().Contain("NeedsApproval, then Granted");
        Console.Lines.Where(l => l.StartsWith("audit: ", StringComparison.Ordinal)).Should().HaveCount(2, "both decisions are audited before they are returned");
    }

    [Fact]
    public void Consent_IsTheCodeInTheReadme()
    {
        (string[] imports, string[] statements, string[] classes) = ReadmeBlocks.Read("<!-- consent-example -->");

        statements.Should().Equal(ReadmeBlocks.Between(ThisFile, "// README consent: begin", "// README consent: end", indent: 8));
        classes.Should().Equal(ReadmeBlocks.Between(ThisFile, "// README consent class: begin", "// README consent class: end", indent: 4));
        ReadmeBlocks.ImportsInclude(ThisFile, imports);
    }

    private const string ThisFile = "tests/RemoteSupport.Core.Tests/ReadmeQuickStartTests.cs";

    private static void QuickStart()
    {
        // README quick start: begin
        // Each party creates its own identity; only public keys are exchanged.
        using var vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        Console.WriteLine($"vendor key {vendor.PublicKey.Fingerprint}");

        // The trust store says which keys speak for which party and role.
        var trust = new TrustStore();
        trust.Trust("contoso", PartyRole.Vendor, vendor.PublicKey);
        trust.Trust("fabrikam", PartyRole.Customer, customer.PublicKey);

        // Both parties sign the same bytes: a jointly signed document.
        var groundRules = new DocumentType("ground-rules-draft", 1);
        byte[] text = Encoding.UTF8.GetBytes("""{"viewData":"needs approval","hours":"08:00-18:00"}""");
        string json = SignedEnvelope.Create(groundRules, text).Sign(vendor).Sign(customer).ToJson();

        // Anyone holding the trusted keys verifies it, offline.
        var bothParties = new SignaturePolicy(groundRules,
            new SignatureRequirement("contoso", PartyRole.Vendor),
            new SignatureRequirement("fabrikam", PartyRole.Customer));
        VerificationResult result = trust.Verify(SignedEnvelope.Parse(json), bothParties);
        Console.WriteLine(result.Sentence);
        // README quick start: end
    }

    private static async Task ConsentExample()
    {
        // README consent: begin
        using var customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
        using var vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        using var approver = PartyIdentity.Create("fabrikam", PartyRole.Approver);
        var trust = new TrustStore();
        foreach (PartyIdentity party in new[] { customer, vendor, technician, approver })
        {
            trust.Trust(party.PartyId, party.Role, party.PublicKey);
        }

        // Jointly signed ground rules: changes need one approver of fabrikam.
        var rules = new SecurityGroundRules
        {
            Version = 1, CustomerId = "fabrikam", VendorId = "contoso", TimeZone = "Europe/Berlin",
            Operations = [new(SupportOperation.ChangeData, true, new ApprovalRequirement([new("IT", "fabrikam", PartyRole.Approver, null, 1)]))],
            DataScopes = [new("finance", ["ledger/**"], "fabrikam")],
            Hours = new(Enum.GetValues<DayOfWeek>(), "00:00", "00:00"), MaxSessionMinutes = 120, MaxApprovalLifetimeSeconds = 3600,
            TollCharges = new("EUR", 500, 120, 60, 500, 20_000, 100_000, 10_000),
        };
        var groundRules = new GroundRulesBook(trust);
        Console.WriteLine(groundRules.Accept(rules.ToEnvelope().Sign(customer).Sign(vendor)).Sentence); // or .Reason, when refused

        // The customer authorizes the vendor's technician on unit-7.
        var authorizations = new AuthorizationBook(trust);
        authorizations.Accept(new ServiceAuthorization
        {
            AuthorizationId = "auth-1", CustomerId = "fabrikam", VendorId = "contoso", VendorKeys = [technician.PublicKey.ToString()],
            Units = ["unit-7"], ValidFrom = DateTimeOffset.UtcNow.AddDays(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30),
            GroundRulesHash = groundRules.CurrentHash!,
        }.ToEnvelope().Sign(customer));

        // The technician asks; the gate wants a written approval; the approver signs exactly that request.
        using var uses = FileApprovalUseCounter.Open(Path.GetTempFileName());
        var gate = new ConsentGate(trust, authorizations, groundRules, uses, new ConsoleAudit());
        var request = new ConsentRequest
        {
            SessionId = "s-1", UnitId = "unit-7", VendorId = "contoso", TechnicianId = "contoso", TechnicianKey = technician.PublicKey,
            Operation = SupportOperation.ChangeData, Root = "finance", Path = "ledger/2026.db", Owner = "fabrikam",
        };
        ConsentDecision first = await gate.DecideAsync(request);
        var approval = Approval.For(first.ApprovalRequest!, DateTimeOffset.UtcNow).ToEnvelope().Sign(approver);
        ConsentDecision second = await gate.DecideAsync(request, [approval]);
        Console.WriteLine($"{first.Outcome}, then {second.Outcome}");
        // README consent: end
    }

    // README consent class: begin
    sealed class ConsoleAudit : IConsentAuditSink
    {
        public ValueTask RecordAsync(ConsentDecision decision, CancellationToken cancellationToken = default)
        {
            Console.WriteLine($"audit: {decision.Outcome} {decision.Sentence}");
            return ValueTask.CompletedTask;
        }
    }
    // README consent class: end

    /// <summary>Stands in for <see cref="System.Console"/> inside this class so the quick start's output is captured.</summary>
    private static class Console
    {
        public static List<string> Lines { get; } = [];

        public static void WriteLine(string line) => Lines.Add(line);
    }
}
