namespace RemoteSupport.Soak;

/// <summary>What goes wrong on one connection.</summary>
internal enum FaultKind
{
    /// <summary>Nothing.</summary>
    None,

    /// <summary>Every read and write waits a few milliseconds first; the session should succeed.</summary>
    Delay,

    /// <summary>At the fault's byte the socket is reset (RST): both sides see the connection fail.</summary>
    Drop,

    /// <summary>The console's bytes stop at the fault's byte in the middle of whatever they carry, then the socket closes.</summary>
    Truncate,

    /// <summary>One bit of the fault's byte is flipped on its way.</summary>
    BitFlip,

    /// <summary>At the fault's byte the console shuts its sending side; it still reads what the unit sends.</summary>
    HalfClose,

    /// <summary>At the fault's byte the direction stops moving, without closing, until the connection ends.</summary>
    Stall,

    /// <summary>Before its own first byte the console sends the first bytes an earlier connection sent.</summary>
    ReplayEarlierStart,

    /// <summary>At the fault's byte the console's bytes are interleaved with bytes an earlier connection sent later in its life.</summary>
    ReplayEarlierMiddle,
}

/// <summary>Which way the faulted bytes travel.</summary>
internal enum FaultDirection
{
    /// <summary>From the console to the unit.</summary>
    ConsoleToUnit,

    /// <summary>From the unit to the console.</summary>
    UnitToConsole,
}

/// <summary>
/// The fault one connection suffers, drawn from the session's seeded random source: its kind, the direction, the byte
/// offset in that direction where it strikes, the bit it flips, and for delays the longest wait.
/// </summary>
internal sealed record ConnectionFault(FaultKind Kind, FaultDirection Direction, long AtByte, int Bit, int MaxDelayMilliseconds)
{
    public static ConnectionFault None { get; } = new(FaultKind.None, FaultDirection.ConsoleToUnit, 0, 0, 0);

    /// <summary>Draws a fault: <paramref name="faultRate"/> of connections get one, the kinds equally likely.</summary>
    public static ConnectionFault Draw(Random random, double faultRate)
    {
        if (random.NextDouble() >= faultRate)
        {
            return None;
        }

        FaultKind[] kinds = [.. Enum.GetValues<FaultKind>().Where(k => k != FaultKind.None)];
        FaultKind kind = kinds[random.Next(kinds.Length)];
        FaultDirection direction = kind is FaultKind.BitFlip or FaultKind.Stall or FaultKind.Drop or FaultKind.Delay
            ? (FaultDirection)random.Next(2)
            : FaultDirection.ConsoleToUnit;

        // Most faults strike in the first few kilobytes (the handshake, the session's hello, the first operations);
        // some later, in a data file's or a fix package's bytes.
        long atByte = random.Next(4) == 0 ? random.Next(4096, 96 * 1024) : random.Next(0, 4096);
        return new ConnectionFault(kind, direction, atByte, random.Next(8), 1 + random.Next(15));
    }

    public override string ToString() => Kind switch
    {
        FaultKind.None => "no fault",
        FaultKind.Delay => $"delays up to {MaxDelayMilliseconds} ms",
        FaultKind.ReplayEarlierStart => "an earlier connection's first bytes first",
        _ => $"{Kind} {Direction} at byte {AtByte}" + (Kind == FaultKind.BitFlip ? $" bit {Bit}" : ""),
    };
}
