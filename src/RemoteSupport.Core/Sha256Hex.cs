using System.Security.Cryptography;

namespace RemoteSupport;

/// <summary>SHA-256 as the documents and the audit write it: 64 lowercase hexadecimal digits.</summary>
internal static class Sha256Hex
{
    /// <summary>Hashes <paramref name="data"/>.</summary>
    public static string Of(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Hashes the rest of <paramref name="stream"/>.</summary>
    public static async Task<string> OfAsync(Stream stream, CancellationToken cancellationToken) =>
        Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));

    /// <summary>Finishes <paramref name="hash"/> (and resets it for reuse).</summary>
    public static string Finish(IncrementalHash hash) => Convert.ToHexStringLower(hash.GetHashAndReset());

    /// <summary>Hashes the file at <paramref name="path"/>, or returns <see langword="null"/> when there is none.</summary>
    public static string? OfFile(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using FileStream file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }
}
