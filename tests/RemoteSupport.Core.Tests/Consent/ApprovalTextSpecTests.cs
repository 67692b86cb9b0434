using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RemoteSupport.Consent;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Tests.Consent;

/// <summary>The approval text recomputed from the request's JSON with the rules of approvals.md alone, as another implementation would.</summary>
public class ApprovalTextSpecTests
{
    public static TheoryData<string> Requests() => new()
    {
        Json(SupportOperation.ViewData, root: "finance", paths: ["ledger/2026.csv", "ledger/2025.csv"], owner: "fabrikam", ticket: "T-1234"),
        Json(SupportOperation.ChangeData, root: "finance", paths: ["ledger/2026.csv"], owner: "fabrikam-labs", reason: "a \"quoted\" \\ reason"),
        Json(SupportOperation.RunDiagnostic, diagnostic: "disk-check", seconds: 90_061),
        Json(SupportOperation.InstallFix, packageHash: new string('a', 64), offset: TimeSpan.FromHours(2)),
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void TheTextAndItsHash_FollowFromTheRequestAsDocumented(string json)
    {
        ApprovalRequest request = ApprovalRequest.FromJson(json);
        string expected = FromTheDoc(JsonDocument.Parse(request.ToJson()).RootElement);

        request.RenderText().Should().Be(expected);
        request.TextHash.Should().Be(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(expected))));
    }

    /// <summary>approvals.md, "The text, as a function of the request", line by line.</summary>
    private static string FromTheDoc(JsonElement r)
    {
        string? Get(string name) => r.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : null;
        static string Q(string x) => "\"" + x.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        var text = new StringBuilder();
        text.Append("RemoteSupport written approval request ").Append(Get("requestId")).Append('\n');
        string verb = Get("operation") switch
        {
            "view-data" => "VIEW (read only)",
            "change-data" => "CHANGE (replace, create or delete)",
            "install-fix" => "INSTALL a software fix on",
            _ => "RUN the diagnostic " + Q(Get("diagnostic")!) + " on",
        };
        string? root = Get("root");
        text.Append("Technician ").Append(Get("technicianId")).Append(" (key ").Append(Get("technicianKeyId")).Append(") asks to ").Append(verb)
            .Append(root is null ? " this unit." : " these data files of " + Get("owner") + ":").Append('\n');
        if (root is not null)
        {
            foreach (JsonElement path in r.GetProperty("paths").EnumerateArray())
            {
                text.Append("  ").Append(root).Append('/').Append(path.GetString()).Append('\n');
            }
        }

        if (Get("packageHash") is { } hash)
        {
            text.Append("Fix package SHA-256: ").Append(hash).Append('\n');
        }

        text.Append("Reason (the vendor's words): ").Append(Q(Get("reason")!)).Append('\n');
        if (Get("ticket") is { } ticket)
        {
            text.Append("Ticket (the vendor's words): ").Append(Q(ticket)).Append('\n');
        }

        text.Append("Session: ").Append(Get("sessionId")).Append('\n');
        DateTimeOffset at = DateTimeOffset.Parse(Get("requestedAt")!, CultureInfo.InvariantCulture);
        long seconds = r.GetProperty("requestedDurationSeconds").GetInt64();
        string duration = (seconds >= 86_400 ? $"{seconds / 86_400}." : string.Empty)
            + $"{seconds % 86_400 / 3600:00}:{seconds % 3600 / 60:00}:{seconds % 60:00}";
        text.Append("Requested at ").Append(at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)).Append("Z for ").Append(duration).Append(".\n");
        return text.ToString();
    }

    private static string Json(
        SupportOperation operation, string? root = null, string[]? paths = null, string? owner = null, string? diagnostic = null, string? ticket = null,
        string reason = "month-end reconciliation fails", string? packageHash = null, int seconds = 3600, TimeSpan offset = default) =>
        new ApprovalRequest
        {
            RequestId = "request-1", SessionId = "session-1", TechnicianId = "contoso", TechnicianKeyId = new string('3', 32), Operation = operation,
            Root = root, Paths = paths ?? [], Owner = owner, Diagnostic = diagnostic, Reason = reason, Ticket = ticket, RequestedDurationSeconds = seconds,
            RequestedAt = new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero).ToOffset(offset), PackageHash = packageHash,
        }.ToJson();
}
