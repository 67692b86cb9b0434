using System.IO.Pipelines;
using System.Threading.Channels;

namespace RemoteSupport.Transport.Transports;

/// <summary>
/// Connections inside one process over a pair of pipes: for tests, benchmarks and hosting the
/// console and the agent together. Dial it after <see cref="Listen"/>, or make a pair directly.
/// </summary>
public sealed class InMemoryTransport : IConnectionDialer
{
    private readonly TransportOptions _options;
    private InMemoryListener? _listener;
    private int _next;

    /// <summary>Creates a transport; the options' pipe settings apply to every connection.</summary>
    public InMemoryTransport(TransportOptions? options = null)
    {
        _options = options ?? new TransportOptions();
        _options.Validate();
    }

    /// <summary>Creates two connected ends.</summary>
    public static (TransportConnection Client, TransportConnection Server) CreatePair(TransportOptions? options = null, string name = "memory")
    {
        options ??= new TransportOptions();
        options.Validate();
        var clientToServer = new Pipe(options.OutputPipeOptions);
        var serverToClient = new Pipe(options.InputPipeOptions);
        var client = new InMemoryConnection(name + "/server", serverToClient.Reader, clientToServer.Writer);
        var server = new InMemoryConnection(name + "/client", clientToServer.Reader, serverToClient.Writer);
        return (client, server);
    }

    /// <summary>Starts accepting dialed connections; one listener per transport.</summary>
    public IConnectionListener Listen()
    {
        var listener = new InMemoryListener(this);
        if (Interlocked.CompareExchange(ref _listener, listener, null) is not null)
        {
            throw new InvalidOperationException("This in-memory transport already has a listener.");
        }

        return listener;
    }

    /// <inheritdoc/>
    public async ValueTask<TransportConnection> DialAsync(CancellationToken cancellationToken = default)
    {
        InMemoryListener listener = Volatile.Read(ref _listener)
            ?? throw new IOException("Nothing listens on this in-memory transport.");
        (TransportConnection client, TransportConnection server) = CreatePair(_options, "memory#" + Interlocked.Increment(ref _next));
        try
        {
            await listener.Pending.Writer.WriteAsync(server, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            throw new IOException("The in-memory listener has stopped.", ex);
        }

        return client;
    }

    private sealed class InMemoryListener(InMemoryTransport transport) : IConnectionListener
    {
        public Channel<TransportConnection> Pending { get; } = Channel.CreateUnbounded<TransportConnection>();

        public string LocalEndPoint => "memory";

        public async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await Pending.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask DisposeAsync()
        {
            Pending.Writer.TryComplete();
            Interlocked.CompareExchange(ref transport._listener, null, this);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class InMemoryConnection(string remote, PipeReader input, PipeWriter output) : TransportConnection(remote)
    {
        public override PipeReader Input => input;

        public override PipeWriter Output => output;

        protected override void AbortCore()
        {
            // Called by the connection's owner: completing its own ends tells the peer at once.
            var error = new ConnectionAbortedException(CloseDetail ?? "The connection was aborted.");
            output.Complete(error);
            input.Complete(error);
            SignalClosed();
        }

        protected override async ValueTask DisposeCoreAsync()
        {
            await output.CompleteAsync().ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }
}
