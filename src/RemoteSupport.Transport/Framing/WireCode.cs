namespace RemoteSupport.Transport.Framing;

/// <summary>An error code a peer sent (a 32-bit unsigned integer on the wire) as one of ours.</summary>
internal static class WireCode
{
    /// <summary>The code as <typeparamref name="TEnum"/> when it names one of its values, else <paramref name="unknown"/> (a code past <see cref="int.MaxValue"/> included: never an overflow).</summary>
    public static TEnum Known<TEnum>(uint code, TEnum unknown)
        where TEnum : struct, Enum =>
        code <= int.MaxValue && Enum.IsDefined(typeof(TEnum), (int)code) ? (TEnum)Enum.ToObject(typeof(TEnum), (int)code) : unknown;
}
