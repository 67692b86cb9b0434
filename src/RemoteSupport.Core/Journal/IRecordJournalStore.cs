namespace RemoteSupport.Journal;

/// <summary>
/// Where the vendor's named record journals live: a ledger per customer, its issued statements, the receipts units
/// sent. <see cref="FileRecordJournalStore"/> (a file per journal, one host) is the default; the PostgreSQL package's
/// store keeps them in one table for several console hosts. Both open the same records as the same tree, so what is
/// signed over one verifies the same over the other.
/// </summary>
/// <remarks>
/// A name is 1 to <see cref="JournalName.MaxLength"/> characters: segments of ASCII letters, digits, <c>.</c>,
/// <c>_</c> and <c>-</c> separated by <c>/</c> (<c>ledger/fabrikam</c>), no segment <c>.</c> or <c>..</c>.
/// </remarks>
public interface IRecordJournalStore : IAsyncDisposable
{
    /// <summary>
    /// Opens the journal named <paramref name="name"/>, creating it when new. The store keeps it open: the same name
    /// returns the same instance until the store is disposed, which closes every journal it opened.
    /// </summary>
    /// <returns>The open journal.</returns>
    /// <param name="name">The journal's name (see the remarks of <see cref="IRecordJournalStore"/>).</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <exception cref="ArgumentException">The name breaks the rule above.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    Task<IRecordJournal> OpenJournalAsync(string name, CancellationToken cancellationToken = default);
}

/// <summary>The rule every store checks a journal's name by.</summary>
public static class JournalName
{
    /// <summary>The longest journal name.</summary>
    public const int MaxLength = 200;

    /// <summary>Gets a value indicating whether <paramref name="name"/> is a valid journal name.</summary>
    /// <returns>True when it is.</returns>
    /// <param name="name">The name.</param>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        foreach (string segment in name.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws when <paramref name="name"/> is not a valid journal name.</summary>
    internal static void Check(string? name, string paramName)
    {
        if (!IsValid(name))
        {
            Error.Argument(paramName, $"'{name}' is not a journal name: 1 to {MaxLength} characters, segments of ASCII letters, digits, '.', '_' and '-' separated by '/', none '.' or '..'.");
        }
    }

    /// <summary>Makes a journal name segment of an id (a customer's): kept when it is one, refused otherwise.</summary>
    internal static string Segment(string id, string paramName)
    {
        if (id.Contains('/') || !IsValid(id))
        {
            Error.Argument(paramName, $"'{id}' cannot name a journal: ids used in journal names are ASCII letters, digits, '.', '_' and '-', not '.' or '..'.");
        }

        return id;
    }
}
