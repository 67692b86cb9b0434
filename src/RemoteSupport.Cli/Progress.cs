using Spectre.Console;

namespace RemoteSupport.Cli;

/// <summary>A progress bar for long work on a terminal (on stderr's behalf, never in --json or redirected output).</summary>
internal static class Progress
{
    /// <summary>The size from which a bar is worth showing.</summary>
    public const long MinimumBytes = 64L * 1024 * 1024;

    public static async Task<T> RunAsync<T>(CliConsole console, string label, long total, Func<long> observe, Func<Task<T>> work)
    {
        if (!console.IsTerminal || console.IsJson || total < MinimumBytes)
        {
            return await work().ConfigureAwait(false);
        }

        T result = default!;
        await console.Ansi.Progress().AutoClear(true).StartAsync(async context =>
        {
            ProgressTask task = context.AddTask(label, maxValue: total);
            Task<T> running = work();
            while (!running.IsCompleted)
            {
                task.Value = Math.Min(observe(), total);
                await Task.WhenAny(running, Task.Delay(100)).ConfigureAwait(false);
            }

            task.Value = total;
            result = await running.ConfigureAwait(false);
        }).ConfigureAwait(false);
        return result;
    }
}

/// <summary>The last value reported, read by the bar's loop (no synchronization context involved, unlike <see cref="Progress{T}"/>).</summary>
internal sealed class LatestProgress : IProgress<long>
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Report(long value) => Interlocked.Exchange(ref _value, value);
}

/// <summary>A read-only stream over another whose position can be read from another thread (for a progress bar).</summary>
internal sealed class ProgressStream(Stream inner) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => Interlocked.Read(ref _position);
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        Interlocked.Add(ref _position, read);
        return read;
    }
}
