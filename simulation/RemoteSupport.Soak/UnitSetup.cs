using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.DataFiles;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Identities;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;
using RemoteSupport.Trust;

namespace RemoteSupport.Soak;

/// <summary>
/// How a unit under test is set up, the same for the soak harness and the transport's session tests: fabrikam's unit-7,
/// supported by contoso; the parties it trusts, the ground rules both sign, the agent's parts over its stores, and
/// the options of its fix installer.
/// </summary>
internal static class UnitSetup
{
    /// <summary>The unit's data file in the <c>finance</c> root, which the ground rules' one scope covers.</summary>
    public const string DataPath = "ledger/2026.csv";

    /// <summary>Trusts the customer, the vendor, the vendor's technician and the customer's approver.</summary>
    public static void TrustParties(TrustStore trust, PartyIdentity customer, PartyIdentity vendor, PartyIdentity technician, PartyIdentity approver)
    {
        trust.Trust("fabrikam", PartyRole.Customer, customer.PublicKey);
        trust.Trust("contoso", PartyRole.Vendor, vendor.PublicKey);
        trust.Trust("contoso", PartyRole.Technician, technician.PublicKey);
        trust.Trust("fabrikam", PartyRole.Approver, approver.PublicKey);
    }

    /// <summary>
    /// The ground rules (version 1, Berlin time): viewing, changing and installing need one approval by IT, diagnostics none;
    /// <c>finance/ledger/**</c> is fabrikam's; approvals live at most 8 h, sessions 240 min.
    /// </summary>
    public static SecurityGroundRules GroundRules(ServiceHours hours, TollChargePolicy tollCharges)
    {
        var it = new ApprovalRequirement([new ApproverGroup("IT", "fabrikam", PartyRole.Approver, null, 1)]);
        return new SecurityGroundRules
        {
            Version = 1,
            CustomerId = "fabrikam",
            VendorId = "contoso",
            TimeZone = "Europe/Berlin",
            Operations =
            [
                new OperationRule(SupportOperation.ViewData, true, it),
                new OperationRule(SupportOperation.ChangeData, true, it),
                new OperationRule(SupportOperation.RunDiagnostic, true, null),
                new OperationRule(SupportOperation.InstallFix, true, it),
            ],
            MaxApprovalLifetimeSeconds = 8 * 3600,
            DataScopes = [new DataScope("finance", ["ledger/**"], "fabrikam")],
            Hours = hours,
            MaxSessionMinutes = 240,
            TollCharges = tollCharges,
        };
    }

    /// <summary>The agent's parts: its books, a consent gate over them, the <c>finance</c> data root, the audit log and the ledger.</summary>
    public static SupportAgentParts AgentParts(
        PartyIdentity unit, TrustStore trust, AuthorizationBook authorizations, GroundRulesBook groundRules, IApprovalUseCounter uses,
        AuditLog audit, ChargeLedger ledger, string dataRoot, IApprovalPrompt approver, TimeSpan approvalTimeout, TimeProvider clock) => new()
    {
        UnitId = "unit-7",
        CustomerId = "fabrikam",
        Identity = unit,
        Authorizations = authorizations,
        GroundRules = groundRules,
        Gate = new ConsentGate(trust, authorizations, groundRules, uses, audit, clock),
        DataFiles = new DataFileStore(new Dictionary<string, string> { ["finance"] = dataRoot }),
        Audit = audit,
        Ledger = ledger,
        ApprovalPrompt = approver,
        ApprovalTimeout = approvalTimeout,
        TimeProvider = clock,
    };

    /// <summary>
    /// Fixes of the <c>ledger</c> product (2.3.0 before any is installed), signed by both release keys of a vendor root
    /// that expires a year after <paramref name="start"/>.
    /// </summary>
    public static FixInstallOptions Fixes(FixInstaller installer, PartyIdentity release1, PartyIdentity release2, DateTimeOffset start, TimeProvider clock, string inbox) => new()
    {
        Trust = new FixTrust(new VendorRoot
        {
            VendorId = "contoso",
            Version = 1,
            Expires = start.AddYears(1),
            Threshold = 2,
            ReleaseKeys = [release1.PublicKey.ToString(), release2.PublicKey.ToString()],
        }.ToEnvelope().Sign(release1).Sign(release2), clock),
        Installer = installer,
        Context = () => new FixContext("unit-7", "fabrikam", null, "ledger", installer.InstalledVersion("ledger") ?? "2.3.0"),
        Inbox = inbox,
    };
}
