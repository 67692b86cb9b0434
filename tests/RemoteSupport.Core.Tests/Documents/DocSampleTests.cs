using System.Text.Json;
using System.Text.Json.Nodes;
using RemoteSupport.Audit;
using RemoteSupport.Authorization;
using RemoteSupport.Consent;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.GroundRules;
using RemoteSupport.Ledger;

namespace RemoteSupport.Tests.Documents;

/// <summary>
/// The JSON samples in docs/formats are what the library writes: each, read as its document and written
/// again, has the same fields (a field the library leaves out when null is left out of the sample too).
/// </summary>
public class DocSampleTests
{
    public static TheoryData<string, int, Type> Samples() => new()
    {
        { "approvals.md", 1, typeof(Approval) },
        { "audit.md", 1, typeof(AuditEvent) },
        { "authorization.md", 1, typeof(ServiceAuthorization) },
        { "authorization.md", 2, typeof(AuthorizationRevocation) },
        { "evidence.md", 1, typeof(RemoteSupport.Evidence.EvidenceManifest) },
        { "evidence.md", 2, typeof(RemoteSupport.Evidence.TrustSnapshot.Snapshot) },
        { "fix-package.md", 1, typeof(VendorRoot) },
        { "fix-package.md", 2, typeof(FixManifest) },
        { "ground-rules.md", 1, typeof(SecurityGroundRules) },
        { "ledger.md", 1, typeof(ChargeEntry) },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void TheSample_HasTheFieldsTheLibraryWrites(string doc, int block, Type type)
    {
        string sample = Block(doc, block);

        object document = JsonSerializer.Deserialize(sample, type, DocumentJson.Options)!;
        JsonNode written = JsonNode.Parse(DocumentJson.Serialize(document))!;

        Paths(JsonNode.Parse(sample)!).Should().BeEquivalentTo(Paths(written), $"{doc} sample {block} shows the fields a {type.Name} is written with");
    }

    private static string Block(string doc, int block)
    {
        string[] lines = File.ReadAllLines(Path.Combine(RepositoryPaths.Root(), "docs", "formats", doc));
        int seen = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i] == "```json" && ++seen == block)
            {
                return string.Join('\n', lines.Skip(i + 1).TakeWhile(l => l != "```"));
            }
        }

        throw new InvalidOperationException($"{doc} has no JSON block {block}.");
    }

    /// <summary>Every field path of a JSON value (array items under <c>[]</c>).</summary>
    private static SortedSet<string> Paths(JsonNode node, string prefix = "")
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        switch (node)
        {
            case JsonObject obj:
                foreach ((string key, JsonNode? value) in obj)
                {
                    paths.Add(prefix + key);
                    if (value is not null)
                    {
                        paths.UnionWith(Paths(value, prefix + key + "."));
                    }
                }

                break;
            case JsonArray array:
                foreach (JsonNode? item in array)
                {
                    if (item is not null)
                    {
                        paths.UnionWith(Paths(item, prefix + "[]."));
                    }
                }

                break;
        }

        return paths;
    }
}
