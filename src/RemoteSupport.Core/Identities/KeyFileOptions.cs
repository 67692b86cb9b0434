using System.ComponentModel.DataAnnotations;

namespace RemoteSupport.Identities;

/// <summary>How <see cref="KeyFile.SaveAsync"/> writes a key file.</summary>
public sealed class KeyFileOptions
{
    /// <summary>Gets or sets the passphrase that seals the private key, or <see langword="null"/> to store it plainly.</summary>
    /// <value>The default value is <see langword="null"/>: the file is protected by its permissions (0600) only.</value>
    public string? Passphrase { get; set; }

    /// <summary>Gets or sets the Argon2id memory cost in KiB.</summary>
    /// <value>The default value is 65536 (64 MiB), within [8192, 1048576].</value>
    [Range(KeyFile.MinArgon2MemoryKiB, KeyFile.MaxArgon2MemoryKiB)]
    public int Argon2MemoryKiB { get; set; } = 65_536;

    /// <summary>Gets or sets the Argon2id number of passes.</summary>
    /// <value>The default value is 3, within [1, 16].</value>
    [Range(1, KeyFile.MaxArgon2Passes)]
    public int Argon2Passes { get; set; } = 3;
}
