namespace RemoteSupport.Transport.Framing;

/// <summary>The frame types of framing protocol 1.0 (docs/protocol/framing.md).</summary>
public enum FrameType : byte
{
    /// <summary>Application bytes on a channel; empty only with <see cref="FrameFlags.EndOfStream"/>.</summary>
    Data = 0x00,

    /// <summary>A secure channel handshake message.</summary>
    Handshake = 0x01,

    /// <summary>A keepalive with 8 opaque bytes, echoed with <see cref="FrameFlags.Ack"/>.</summary>
    Ping = 0x02,

    /// <summary>The sender is closing the connection: an error code (u32) and a UTF-8 reason.</summary>
    GoAway = 0x03,

    /// <summary>Opens a logical channel.</summary>
    ChannelOpen = 0x04,

    /// <summary>Accepts a logical channel.</summary>
    ChannelAccept = 0x05,

    /// <summary>Grants flow-control credit: a u32 increment.</summary>
    WindowUpdate = 0x06,

    /// <summary>Resets a logical channel: an error code (u32) and a UTF-8 reason.</summary>
    ChannelReset = 0x07,
}

/// <summary>Frame flags; which bits are defined depends on the frame type.</summary>
[Flags]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "They are the frame header's flags field.")]
#pragma warning disable CA1069 // One bit means different things for different frame types, as in HTTP/2.
public enum FrameFlags : byte
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>On <see cref="FrameType.Data"/>: the sender sends nothing more on this channel.</summary>
    EndOfStream = 0x01,

    /// <summary>On <see cref="FrameType.Ping"/>: this is the answer to a ping.</summary>
    Ack = 0x01,
}
#pragma warning restore CA1069

/// <summary>Protocol errors of the framing layer; the numbers are the GoAway error codes.</summary>
public enum FramingError
{
    /// <summary>No error: a graceful close.</summary>
    None = 0,

    /// <summary>The peer's preface has the wrong magic or an out-of-range field.</summary>
    BadPreface = 1,

    /// <summary>The peer speaks another major version.</summary>
    UnsupportedVersion = 2,

    /// <summary>A frame announced a payload larger than this side accepts.</summary>
    FrameTooLarge = 3,

    /// <summary>A frame has a type this version does not define.</summary>
    UnknownFrameType = 4,

    /// <summary>A data frame carried nothing and did not end the stream.</summary>
    EmptyFrame = 5,

    /// <summary>A frame set flag bits its type does not define.</summary>
    InvalidFlags = 6,

    /// <summary>A frame's payload length is outside its type's range.</summary>
    InvalidPayloadLength = 7,

    /// <summary>The connection ended inside a frame or the preface.</summary>
    TruncatedFrame = 8,

    /// <summary>The peer was too slow: handshake, idle or minimum data rate timeout.</summary>
    Timeout = 9,
}
