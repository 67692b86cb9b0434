using System.Text;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests;

/// <summary>The README's quick start, compiled here and compared with the README text.</summary>
public class ReadmeQuickStartTests
{
    private const string Begin = "// README quick start: begin";
    private const string End = "// README quick start: end";

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
        string root = FindRepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        int marker = readme.IndexOf("<!-- quick-start -->", StringComparison.Ordinal);
        marker.Should().BePositive("the README marks its quick start");
        int start = readme.IndexOf("```csharp\n", marker, StringComparison.Ordinal) + "```csharp\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        string[] readmeLines = readme[start..end].TrimEnd('\n').Split('\n');

        string source = File.ReadAllText(Path.Combine(root, "tests", "RemoteSupport.Core.Tests", "ReadmeQuickStartTests.cs")).ReplaceLineEndings("\n");
        int bodyStart = source.IndexOf(Begin + "\n", StringComparison.Ordinal) + Begin.Length + 1;
        int bodyEnd = source.LastIndexOf("        " + End, StringComparison.Ordinal);
        string[] body = source[bodyStart..bodyEnd].TrimEnd('\n').Split('\n')
            .Select(line => line.Length >= 8 ? line[8..] : line.TrimStart()).ToArray();

        string[] imports = readmeLines.Where(l => l.StartsWith("using ", StringComparison.Ordinal) && !l.StartsWith("using var ", StringComparison.Ordinal)).ToArray();
        readmeLines.Skip(imports.Length).SkipWhile(string.IsNullOrEmpty).Should().Equal(body);
        foreach (string import in imports)
        {
            source.Should().Contain(import + "\n");
        }
    }

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
        Console.WriteLine(result.Message);
        // README quick start: end
    }

    internal static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RemoteSupport.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RemoteSupport.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Stands in for <see cref="System.Console"/> inside this class so the quick start's output is captured.</summary>
    private static class Console
    {
        public static List<string> Lines { get; } = [];

        public static void WriteLine(string line) => Lines.Add(line);
    }
}
