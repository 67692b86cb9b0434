using RemoteSupport.Consent;
using RemoteSupport.GroundRules;

namespace RemoteSupport.Tests.Consent;

/// <summary>
/// The checks of the words a vendor puts into a request (reason, ticket, root, owner, diagnostic) at their exact
/// limits, with the sentence each refusal names, and the quoting of those words in the approval text.
/// </summary>
public sealed class VendorTextTests
{
    [Fact]
    public void AMissingField_IsRefusedOnlyWhenRequired()
    {
        VendorText.Check("reason", null, VendorText.MaxReasonLength).Should().Be("The request has no reason.");
        VendorText.Check("ticket", null, VendorText.MaxNameLength, required: false).Should().BeNull();
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(64, true)]
    [InlineData(65, false)]
    public void AField_IsOneToItsMaximumCharacters(int length, bool accepted)
    {
        string? problem = VendorText.Check("ticket", new string('t', length), VendorText.MaxNameLength);

        if (accepted)
        {
            problem.Should().BeNull();
        }
        else
        {
            problem.Should().Be($"The ticket is 1 to 64 characters; this one has {length}.");
        }
    }

    [Fact]
    public void ALoneSurrogateOrAControlCharacter_IsNamedWithItsPosition_AndAPairIsAccepted()
    {
        VendorText.Check("reason", "ok\uD800x", 280).Should().Be("The reason holds a lone surrogate at position 2.");
        VendorText.Check("reason", "ab\u0007", 280).Should().Be(
            "The reason holds U+0007 at position 2: control, format and line or paragraph separator characters are refused.");
        VendorText.Check("reason", "\uD83D\uDE00\u202E", 280).Should().Contain("U+202E at position 2", "a pair counts as two positions and the loop goes on after it");
        VendorText.Check("reason", "fix \uD83D\uDE00 totals", 280).Should().BeNull();
    }

    [Theory]
    [InlineData("disk", true)]
    [InlineData("a.b_c-D9", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("disk usage", false)]
    [InlineData("dïsk", false)]
    [InlineData("a/b", false)]
    public void ADiagnosticName_IsAsciiLettersDigitsDotsUnderscoresAndHyphens(string? name, bool accepted)
    {
        string? problem = VendorText.CheckDiagnosticName(name);

        if (accepted)
        {
            problem.Should().BeNull();
        }
        else
        {
            problem.Should().Be("A diagnostic is named by 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'.");
        }
    }

    [Fact]
    public void ADiagnosticName_IsAtMost64Characters()
    {
        VendorText.CheckDiagnosticName(new string('d', 64)).Should().BeNull();
        VendorText.CheckDiagnosticName(new string('d', 65)).Should().NotBeNull();
    }

    [Fact]
    public void CheckFields_NamesTheFirstFieldThatIsWrong_InTheOrderReasonTicketRootOwnerDiagnostic()
    {
        string bad = "x\n";
        VendorText.CheckFields(SupportOperation.ViewData, bad, bad, bad, bad, null).Should().StartWith("The reason holds");
        VendorText.CheckFields(SupportOperation.ViewData, "r", bad, bad, bad, null).Should().StartWith("The ticket holds");
        VendorText.CheckFields(SupportOperation.ViewData, "r", "t", bad, bad, null).Should().StartWith("The data root holds");
        VendorText.CheckFields(SupportOperation.ViewData, "r", "t", "finance", bad, null).Should().StartWith("The owner holds");
        VendorText.CheckFields(SupportOperation.ViewData, "r", "t", "finance", "fabrikam", null).Should().BeNull();
        VendorText.CheckFields(SupportOperation.ViewData, "r", null, null, null, null).Should().BeNull();
    }

    [Fact]
    public void CheckFields_ADiagnosticIsNamedOnlyByARunDiagnosticRequest_AndThenChecked()
    {
        VendorText.CheckFields(SupportOperation.ViewData, "r", null, "finance", "fabrikam", "disk").Should().Be("Only a run-diagnostic request names a diagnostic.");
        VendorText.CheckFields(SupportOperation.RunDiagnostic, "r", null, null, null, "disk").Should().BeNull();
        VendorText.CheckFields(SupportOperation.RunDiagnostic, "r", null, null, null, "disk usage").Should().StartWith("A diagnostic is named by");
        VendorText.CheckFields(SupportOperation.RunDiagnostic, "r", null, null, null, null).Should().StartWith("A diagnostic is named by");
    }

    [Fact]
    public void Quote_WrapsInDoubleQuotes_AndEscapesQuotesAndBackslashes()
    {
        VendorText.Quote("say \"hi\" \\ bye").Should().Be("\"say \\\"hi\\\" \\\\ bye\"");
        VendorText.Quote(string.Empty).Should().Be("\"\"");
    }
}
