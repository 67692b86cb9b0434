using System.IO.Pipelines;

namespace RemoteSupport.Transport.Transports;

/// <summary>Buffering and shutdown settings of a transport connection.</summary>
public sealed class TransportOptions
{
    /// <summary>Gets or sets the options of the pipe received bytes are written to.</summary>
    /// <value>The default value pauses the transport when 1 MiB is unread and resumes at 512 KiB (backpressure).</value>
    public PipeOptions InputPipeOptions { get; set; } = DefaultPipeOptions;

    /// <summary>Gets or sets the options of the pipe the application writes to.</summary>
    /// <value>The default value pauses the application's flushes when 1 MiB is unsent and resumes at 512 KiB.</value>
    public PipeOptions OutputPipeOptions { get; set; } = DefaultPipeOptions;

    /// <summary>Gets or sets the smallest buffer a receive asks the pipe for, in bytes.</summary>
    /// <value>The default value is 16384, within [512, 1048576].</value>
    public int ReceiveBufferSize { get; set; } = 16 * 1024;

    /// <summary>Gets or sets how long disposal waits for unsent data to drain before closing.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    internal static PipeOptions DefaultPipeOptions { get; } = new(
        pauseWriterThreshold: 1024 * 1024,
        resumeWriterThreshold: 512 * 1024,
        useSynchronizationContext: false);

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(InputPipeOptions);
        ArgumentNullException.ThrowIfNull(OutputPipeOptions);
        if (ReceiveBufferSize is < 512 or > 1024 * 1024)
        {
            Error.ArgumentOutOfRange(nameof(ReceiveBufferSize), "ReceiveBufferSize must be within [512, 1048576].");
        }

        if (ShutdownTimeout < TimeSpan.Zero)
        {
            Error.ArgumentOutOfRange(nameof(ShutdownTimeout), "ShutdownTimeout must not be negative.");
        }
    }
}
