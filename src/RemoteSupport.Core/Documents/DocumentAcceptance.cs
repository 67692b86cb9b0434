namespace RemoteSupport.Documents;

/// <summary>Why a signed document was not accepted.</summary>
public enum DocumentRefusal
{
    /// <summary>Accepted.</summary>
    None = 0,

    /// <summary>Not a document of the expected type and version, or a field is missing or malformed.</summary>
    Malformed,

    /// <summary>Not signed by the keys the document needs (the sentence names who and how many).</summary>
    NotSigned,

    /// <summary>The document is another customer's than the one it is given to (a unit's books, a revocation, charge entries).</summary>
    OtherCustomer,

    /// <summary>Not the next in its sequence: an amendment, a version or a rotation out of order.</summary>
    OutOfSequence,

    /// <summary>Well formed and signed, but its content breaks a rule (a validity that ends before it starts, malformed hours, an expired root).</summary>
    Invalid,

    /// <summary>It names something the receiver does not hold (a charge entry that is not in the ledger).</summary>
    UnknownEntry,

    /// <summary>
    /// The receiver's state has moved past it for good: an authorization the customer revoked (a revocation is
    /// permanent), or a ground rules version, vendor root version or key rotation at or below the one in force.
    /// </summary>
    Superseded,
}

/// <summary>
/// The outcome of giving a signed document to the book, store or ledger that keeps it: accepted, or
/// refused with a reason and a sentence naming the problem. An expected refusal is this value, never an
/// exception; misuse (a null argument) throws.
/// </summary>
public sealed record DocumentAcceptance
{
    private DocumentAcceptance(DocumentRefusal reason, string sentence)
    {
        Reason = reason;
        Sentence = sentence;
    }

    /// <summary>Gets a value indicating whether the document was accepted and is now in force.</summary>
    public bool IsAccepted => Reason == DocumentRefusal.None;

    /// <summary>Gets why the document was refused; <see cref="DocumentRefusal.None"/> when it was accepted.</summary>
    public DocumentRefusal Reason { get; }

    /// <summary>Gets a sentence saying what was accepted, or why not.</summary>
    public string Sentence { get; }

    /// <inheritdoc/>
    public override string ToString() => Sentence;

    internal static DocumentAcceptance Accepted(string sentence) => new(DocumentRefusal.None, sentence);

    internal static DocumentAcceptance Refused(DocumentRefusal reason, string sentence) => new(reason, sentence);
}
