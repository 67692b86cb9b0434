using System.Reflection;
using RemoteSupport.Documents;

namespace RemoteSupport.Tests.Documents;

/// <summary>envelope.md lists every payload type Core writes (the Transport tests check the table has nothing else).</summary>
public class PayloadTypeTableTests
{
    [Fact]
    public void TheEnvelopeDoc_ListsEveryDocumentTypeInCode_WithItsCSharpType()
    {
        (string PayloadType, string TypeName)[] inCode = [.. typeof(DocumentType).Assembly.GetExportedTypes()
            .Select(t => (Type: t, Property: t.GetProperty("DocumentType", BindingFlags.Public | BindingFlags.Static)))
            .Where(p => p.Property?.PropertyType == typeof(DocumentType))
            .Select(p => (((DocumentType)p.Property!.GetValue(null)!).PayloadType, p.Type.Name))];
        string[] rows = [.. File.ReadAllLines(Path.Combine(RepositoryPaths.Root(), "docs", "formats", "envelope.md"))
            .Where(l => l.StartsWith("| `application/vnd.remotesupport.", StringComparison.Ordinal))];

        inCode.Should().HaveCountGreaterThanOrEqualTo(12);
        foreach ((string payloadType, string typeName) in inCode)
        {
            rows.Should().ContainSingle(r => r.StartsWith($"| `{payloadType}` | `{typeName}` |", StringComparison.Ordinal), $"{typeName} writes {payloadType}");
        }
    }
}
