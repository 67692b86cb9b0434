using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace RemoteSupport.Identities;

/// <summary>
/// An Ed25519 public key with its key id, fingerprint and text form. Equal keys compare equal.
/// </summary>
/// <remarks>
/// Text form: <c>ed25519:</c> followed by the 32 raw key bytes in unpadded base64url
/// (see docs/formats/keys.md). The key id is the first 16 bytes of SHA-256 over the raw key, in
/// lowercase hex; the fingerprint is the first 20 bytes of the same hash in RFC 4648 base32, in
/// groups of four characters, for people to compare over the phone.
/// </remarks>
public sealed class PartyKey : IEquatable<PartyKey>
{
    /// <summary>The prefix of the text form.</summary>
    public const string TextPrefix = "ed25519:";

    /// <summary>The length of a raw Ed25519 public key, in bytes.</summary>
    public const int RawKeyLength = 32;

    private readonly byte[] _raw;

    private PartyKey(byte[] raw, PublicKey publicKey)
    {
        _raw = raw;
        NSecKey = publicKey;
        byte[] hash = SHA256.HashData(raw);
        KeyId = Convert.ToHexStringLower(hash.AsSpan(0, 16));
        Fingerprint = FormatFingerprint(hash.AsSpan(0, 20));
    }

    /// <summary>Gets the key id: 32 lowercase hex characters, used in envelope signatures.</summary>
    public string KeyId { get; }

    /// <summary>Gets the human-checkable fingerprint, e.g. <c>ABCD-EFGH-…</c> (8 groups of 4).</summary>
    public string Fingerprint { get; }

    /// <summary>Gets the raw 32-byte public key.</summary>
    public ReadOnlySpan<byte> RawKey => _raw;

    internal PublicKey NSecKey { get; }

    /// <summary>Creates a key from its 32 raw bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="rawKey"/> is not a valid Ed25519 public key.</exception>
    public static PartyKey FromRaw(ReadOnlySpan<byte> rawKey)
    {
        if (!TryFromRaw(rawKey, out PartyKey? key))
        {
            Error.Argument(nameof(rawKey), $"An Ed25519 public key is {RawKeyLength} bytes of a valid curve point.");
        }

        return key;
    }

    /// <summary>Parses the text form <c>ed25519:&lt;base64url&gt;</c>.</summary>
    /// <exception cref="FormatException"><paramref name="text"/> is not a public key in text form.</exception>
    public static PartyKey Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out PartyKey? key))
        {
            throw new FormatException(
                $"'{Truncate(text)}' is not a public key: expected '{TextPrefix}' and 43 base64url characters.");
        }

        return key;
    }

    /// <summary>Parses the text form; returns <see langword="false"/> when it is not valid.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out PartyKey? key)
    {
        key = null;
        if (text is null || !text.StartsWith(TextPrefix, StringComparison.Ordinal)
            || text.Length != TextPrefix.Length + 43)
        {
            return false;
        }

        Span<byte> raw = stackalloc byte[RawKeyLength];
        ReadOnlySpan<char> encoded = text.AsSpan(TextPrefix.Length);
        if (!Base64Url.IsValid(encoded) || Base64Url.DecodeFromChars(encoded, raw, out _, out int written) != OperationStatus.Done
            || written != RawKeyLength)
        {
            return false;
        }

        return TryFromRaw(raw, out key);
    }

    /// <summary>Creates a key from raw bytes; returns <see langword="false"/> when they are not a valid key.</summary>
    public static bool TryFromRaw(ReadOnlySpan<byte> rawKey, [NotNullWhen(true)] out PartyKey? key)
    {
        key = null;
        if (rawKey.Length != RawKeyLength
            || !PublicKey.TryImport(SignatureAlgorithm.Ed25519, rawKey, KeyBlobFormat.RawPublicKey, out PublicKey? imported))
        {
            return false;
        }

        key = new PartyKey(rawKey.ToArray(), imported!);
        return true;
    }

    internal static PartyKey FromNSec(PublicKey publicKey) =>
        new(publicKey.Export(KeyBlobFormat.RawPublicKey), publicKey);

    /// <summary>Verifies an Ed25519 signature over <paramref name="data"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        signature.Length == SignatureAlgorithm.Ed25519.SignatureSize
        && SignatureAlgorithm.Ed25519.Verify(NSecKey, data, signature);

    /// <summary>Returns the text form <c>ed25519:&lt;base64url&gt;</c>.</summary>
    public override string ToString() => TextPrefix + Base64Url.EncodeToString(_raw);

    /// <inheritdoc/>
    public bool Equals(PartyKey? other) => other is not null && _raw.AsSpan().SequenceEqual(other._raw);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PartyKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(_raw, 0);

    private static string FormatFingerprint(ReadOnlySpan<byte> bytes)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var text = new StringBuilder(40);
        int buffer = 0;
        int bits = 0;
        foreach (byte b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                if (text.Length > 0 && text.Length % 5 == 4)
                {
                    text.Append('-');
                }

                text.Append(Alphabet[(buffer >> bits) & 31]);
            }
        }

        return text.ToString();
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "…");
}
