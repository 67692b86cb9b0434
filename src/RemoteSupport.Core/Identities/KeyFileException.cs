namespace RemoteSupport.Identities;

/// <summary>Why a key file could not be loaded or saved.</summary>
public enum KeyFileError
{
    /// <summary>The file is not a key file of a known version, or a field is missing or out of range.</summary>
    Malformed = 1,

    /// <summary>The key is sealed and no passphrase was given.</summary>
    PassphraseRequired = 2,

    /// <summary>The passphrase is wrong, or the sealed key was altered.</summary>
    WrongPassphrase = 3,

    /// <summary>The file can be read by users other than its owner.</summary>
    InsecurePermissions = 4,

    /// <summary>A file already exists at the path to save to.</summary>
    AlreadyExists = 5,
}

/// <summary>A key file could not be loaded or saved; <see cref="Error"/> says why.</summary>
public sealed class KeyFileException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KeyFileException(KeyFileError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
    }

    /// <summary>Gets why the key file could not be used.</summary>
    public KeyFileError Error { get; }
}
