namespace RemoteSupport.Transport.Security.Noise;

internal enum NoiseToken
{
    E,
    S,
    EE,
    ES,
    SE,
    SS,
    Psk,
}

/// <summary>
/// A handshake pattern: pre-messages and message token lists (Noise revision 34, sections 7 and 9),
/// with PSK modifiers applied: <c>psk0</c> at the start of the first message, <c>pskN</c> at the end of the Nth.
/// </summary>
internal sealed class NoisePattern
{
    private static readonly Dictionary<string, string> Definitions = new(StringComparer.Ordinal)
    {
        // One-way (7.4)
        ["N"] = "<- s | -> e, es",
        ["K"] = "-> s; <- s | -> e, es, ss",
        ["X"] = "<- s | -> e, es, s, ss",

        // Fundamental interactive (7.5)
        ["NN"] = "| -> e; <- e, ee",
        ["NK"] = "<- s | -> e, es; <- e, ee",
        ["NX"] = "| -> e; <- e, ee, s, es",
        ["KN"] = "-> s | -> e; <- e, ee, se",
        ["KK"] = "-> s; <- s | -> e, es, ss; <- e, ee, se",
        ["KX"] = "-> s | -> e; <- e, ee, se, s, es",
        ["XN"] = "| -> e; <- e, ee; -> s, se",
        ["XK"] = "<- s | -> e, es; <- e, ee; -> s, se",
        ["XX"] = "| -> e; <- e, ee, s, es; -> s, se",
        ["IN"] = "| -> e, s; <- e, ee, se",
        ["IK"] = "<- s | -> e, es, s, ss; <- e, ee, se",
        ["IX"] = "| -> e, s; <- e, ee, se, s, es",

        // Deferred (7.6)
        ["NK1"] = "<- s | -> e; <- e, ee, es",
        ["NX1"] = "| -> e; <- e, ee, s; -> es",
        ["X1N"] = "| -> e; <- e, ee; -> s; <- se",
        ["X1K"] = "<- s | -> e, es; <- e, ee; -> s; <- se",
        ["XK1"] = "<- s | -> e; <- e, ee, es; -> s, se",
        ["X1K1"] = "<- s | -> e; <- e, ee, es; -> s; <- se",
        ["X1X"] = "| -> e; <- e, ee, s, es; -> s; <- se",
        ["XX1"] = "| -> e; <- e, ee, s; -> es, s, se",
        ["X1X1"] = "| -> e; <- e, ee, s; -> es, s; <- se",
        ["K1N"] = "-> s | -> e; <- e, ee; -> se",
        ["K1K"] = "-> s; <- s | -> e, es; <- e, ee; -> se",
        ["KK1"] = "-> s; <- s | -> e; <- e, ee, se, es",
        ["K1K1"] = "-> s; <- s | -> e; <- e, ee, es; -> se",
        ["K1X"] = "-> s | -> e; <- e, ee, s, es; -> se",
        ["KX1"] = "-> s | -> e; <- e, ee, se, s; -> es",
        ["K1X1"] = "-> s | -> e; <- e, ee, s; -> se, es",
        ["I1N"] = "| -> e, s; <- e, ee; -> se",
        ["I1K"] = "<- s | -> e, es, s; <- e, ee; -> se",
        ["IK1"] = "<- s | -> e, s; <- e, ee, se, es",
        ["I1K1"] = "<- s | -> e, s; <- e, ee, es; -> se",
        ["I1X"] = "| -> e, s; <- e, ee, s, es; -> se",
        ["IX1"] = "| -> e, s; <- e, ee, se, s; -> es",
        ["I1X1"] = "| -> e, s; <- e, ee, s; -> se, es",
    };

    private NoisePattern(string name, bool initiatorPreStatic, bool responderPreStatic, List<NoiseToken[]> messages, bool oneWay, bool hasPsk)
    {
        Name = name;
        InitiatorPreStatic = initiatorPreStatic;
        ResponderPreStatic = responderPreStatic;
        Messages = messages;
        IsOneWay = oneWay;
        HasPsk = hasPsk;
    }

    public string Name { get; }

    /// <summary>Gets a value indicating whether the initiator's static key is known to the responder beforehand (<c>-&gt; s</c> pre-message).</summary>
    public bool InitiatorPreStatic { get; }

    /// <summary>Gets a value indicating whether the responder's static key is known to the initiator beforehand (<c>&lt;- s</c> pre-message).</summary>
    public bool ResponderPreStatic { get; }

    public IReadOnlyList<NoiseToken[]> Messages { get; }

    public bool IsOneWay { get; }

    public bool HasPsk { get; }

    public int PskCount => Messages.Sum(m => m.Count(t => t == NoiseToken.Psk));

    /// <summary>Gets a value indicating whether the initiator sends a static key (in a message or a pre-message).</summary>
    public bool InitiatorHasStatic => InitiatorPreStatic || Messages.Where((_, i) => i % 2 == 0).Any(m => m.Contains(NoiseToken.S));

    /// <summary>Gets a value indicating whether the responder has a static key.</summary>
    public bool ResponderHasStatic => ResponderPreStatic || Messages.Where((_, i) => i % 2 == 1).Any(m => m.Contains(NoiseToken.S));

    /// <summary>Parses a pattern name with its modifiers, such as <c>XX</c>, <c>XXpsk3</c> or <c>NNpsk0+psk2</c>.</summary>
    public static NoisePattern? TryParse(string name)
    {
        int modifiers = name.IndexOf("psk", StringComparison.Ordinal);
        string baseName = modifiers < 0 ? name : name[..modifiers];
        if (!Definitions.TryGetValue(baseName, out string? definition))
        {
            return null;
        }

        string[] parts = definition.Split('|');
        string pre = parts[0].Trim();
        bool initiatorPre = pre.Contains("-> s", StringComparison.Ordinal);
        bool responderPre = pre.Contains("<- s", StringComparison.Ordinal);
        var messages = parts[1].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(message => message[3..].Split(',', StringSplitOptions.TrimEntries).Select(ParseToken).ToList())
            .ToList();

        if (modifiers >= 0)
        {
            foreach (string modifier in name[modifiers..].Split('+'))
            {
                if (!modifier.StartsWith("psk", StringComparison.Ordinal) || !int.TryParse(modifier.AsSpan(3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int position)
                    || position > messages.Count)
                {
                    return null;
                }

                if (position == 0)
                {
                    messages[0].Insert(0, NoiseToken.Psk);
                }
                else
                {
                    messages[position - 1].Add(NoiseToken.Psk);
                }
            }
        }

        bool oneWay = baseName.Length == 1;
        return new NoisePattern(name, initiatorPre, responderPre, messages.Select(m => m.ToArray()).ToList(), oneWay, modifiers >= 0);
    }

    private static NoiseToken ParseToken(string token) => token switch
    {
        "e" => NoiseToken.E,
        "s" => NoiseToken.S,
        "ee" => NoiseToken.EE,
        "es" => NoiseToken.ES,
        "se" => NoiseToken.SE,
        "ss" => NoiseToken.SS,
        _ => throw new InvalidOperationException("Unknown token " + token),
    };
}

/// <summary>A full protocol name, <c>Noise_&lt;pattern&gt;_25519_&lt;cipher&gt;_&lt;hash&gt;</c>.</summary>
internal sealed class NoiseProtocol
{
    private NoiseProtocol(string name, NoisePattern pattern, NoiseCipher cipher, NoiseHash hash)
    {
        Name = name;
        Pattern = pattern;
        Cipher = cipher;
        Hash = hash;
    }

    public string Name { get; }

    public NoisePattern Pattern { get; }

    public NoiseCipher Cipher { get; }

    public NoiseHash Hash { get; }

    /// <summary>Parses a protocol name; <see langword="null"/> with a reason when it is not one this library runs.</summary>
    public static NoiseProtocol? TryParse(string name, out string? unsupported)
    {
        unsupported = null;
        string[] parts = name.Split('_');
        if (parts.Length != 5 || parts[0] != "Noise")
        {
            unsupported = $"'{name}' is not a Noise protocol name.";
            return null;
        }

        NoisePattern? pattern = NoisePattern.TryParse(parts[1]);
        if (pattern is null)
        {
            unsupported = $"The handshake pattern '{parts[1]}' is not supported.";
            return null;
        }

        if (parts[2] != "25519")
        {
            unsupported = $"The DH function '{parts[2]}' is not supported (only 25519).";
            return null;
        }

        NoiseCipher? cipher = NoiseCipher.FromName(parts[3]);
        if (cipher is null)
        {
            unsupported = $"The cipher '{parts[3]}' is not supported.";
            return null;
        }

        if (cipher == NoiseCipher.AesGcm && !NoiseCipher.IsAesGcmSupported)
        {
            unsupported = "AESGCM is not supported on this processor (NSec's Aes256Gcm.IsSupported is false).";
            return null;
        }

        NoiseHash? hash = NoiseHash.FromName(parts[4]);
        if (hash is null)
        {
            unsupported = $"The hash '{parts[4]}' is not supported.";
            return null;
        }

        return new NoiseProtocol(name, pattern, cipher, hash);
    }
}
