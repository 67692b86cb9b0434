namespace RemoteSupport.Documents;

/// <summary>Bytes offered as a signed envelope are not one: too large, not JSON, or a field is wrong.</summary>
public sealed class EnvelopeFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public EnvelopeFormatException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
