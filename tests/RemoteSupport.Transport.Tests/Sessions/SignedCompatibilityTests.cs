using System.Reflection;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Tests;
using RemoteSupport.Transport.Security;
using RemoteSupport.Transport.Sessions;
using RemoteSupport.Trust;

namespace RemoteSupport.Transport.Tests.Sessions;

public sealed class SignedCompatibilityTests
{
    [Fact]
    public void TheVendorSignsItsSpecification_AndTheCustomerVerifiesAndReadsIt()
    {
        using var vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
        using var technician = PartyIdentity.Create("contoso", PartyRole.Technician);
        var secure = new SecureChannelOptions { Identity = technician, TrustStore = new TrustStore() };
        CompatibilitySpecification spec = CompatibilitySpecification.Describe(
            "contoso", new SupportConnectionOptions { Secure = secure }, [new CompatibilityEndpoint("tcp", "support.contoso.example", 7700, "inbound")], new LineRequirements(64_000, 600));
        var customerTrusts = new TrustStore();
        customerTrusts.Trust("contoso", PartyRole.Vendor, vendor.PublicKey);
        var byTheVendor = new SignaturePolicy(CompatibilitySpecification.DocumentType, new SignatureRequirement("contoso", PartyRole.Vendor));

        SignedEnvelope signed = SignedEnvelope.Parse(spec.ToEnvelope().Sign(vendor).ToJson());
        SignedEnvelope altered = SignedEnvelope.Create(CompatibilitySpecification.DocumentType,
            System.Text.Encoding.UTF8.GetBytes((spec with { VendorId = "globex" }).ToJson())).AddSignature(signed.Signatures[0]);

        customerTrusts.Verify(signed, byTheVendor).IsValid.Should().BeTrue();
        CompatibilitySpecification read = CompatibilitySpecification.FromEnvelope(signed);
        read.ToMarkdown().Should().Be(spec.ToMarkdown(), "the writing the customer reads is rendered from the signed bytes");
        customerTrusts.Verify(altered, byTheVendor).IsValid.Should().BeFalse("a changed specification no longer carries the vendor's signature");
        FluentActions.Invoking(() => CompatibilitySpecification.FromEnvelope(SignedEnvelope.Create(new DocumentType("ground-rules", 1), "{}"u8.ToArray())))
            .Should().Throw<EnvelopeFormatException>();
    }

    [Fact]
    public void TheEnvelopeDoc_ListsEveryPayloadTypeOfBothPackages_AndNoOther()
    {
        Assembly[] packages = [typeof(DocumentType).Assembly, typeof(CompatibilitySpecification).Assembly];
        string[] inCode = [.. packages.SelectMany(a => a.GetExportedTypes())
            .Select(t => t.GetProperty("DocumentType", BindingFlags.Public | BindingFlags.Static))
            .Where(p => p?.PropertyType == typeof(DocumentType))
            .Select(p => ((DocumentType)p!.GetValue(null)!).PayloadType)];
        string[] rows = [.. File.ReadAllLines(Path.Combine(RepositoryPaths.Root(), "docs", "formats", "envelope.md"))
            .Where(l => l.StartsWith("| `application/vnd.remotesupport.", StringComparison.Ordinal))
            .Select(l => l.Split('`')[1])];

        rows.Should().BeEquivalentTo(inCode, "one row per payload type the packages write, none they do not");
    }
}
