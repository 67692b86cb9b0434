namespace RemoteSupport.Identities;

/// <summary>The role a key speaks in. A party (an organization) holds keys in one or more roles.</summary>
public enum PartyRole
{
    /// <summary>The software vendor that provides electronic customer support.</summary>
    Vendor = 1,

    /// <summary>The customer that authorizes the service and owns the data files.</summary>
    Customer = 2,

    /// <summary>One of the customer's units (a machine running the agent).</summary>
    Unit = 3,

    /// <summary>A vendor technician working in a support session.</summary>
    Technician = 4,

    /// <summary>A customer approver who signs written approvals.</summary>
    Approver = 5,
}

/// <summary>Text names of <see cref="PartyRole"/> used in every document format.</summary>
public static class PartyRoleNames
{
    /// <summary>Returns the lowercase text name of <paramref name="role"/> (<c>vendor</c>, <c>customer</c> …).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="role"/> is not a defined role.</exception>
    public static string ToText(this PartyRole role) => role switch
    {
        PartyRole.Vendor => "vendor",
        PartyRole.Customer => "customer",
        PartyRole.Unit => "unit",
        PartyRole.Technician => "technician",
        PartyRole.Approver => "approver",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown party role."),
    };

    /// <summary>Parses a text name written by <see cref="ToText"/>.</summary>
    /// <returns><see langword="true"/> when <paramref name="text"/> names a role.</returns>
    public static bool TryParse(string? text, out PartyRole role)
    {
        role = text switch
        {
            "vendor" => PartyRole.Vendor,
            "customer" => PartyRole.Customer,
            "unit" => PartyRole.Unit,
            "technician" => PartyRole.Technician,
            "approver" => PartyRole.Approver,
            _ => 0,
        };
        return role != 0;
    }
}
