using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RemoteSupport.Identities;
using RemoteSupport.Sessions;

namespace RemoteSupport.Transport.Sessions;

/// <summary>What <see cref="RemoteSupportServiceCollectionExtensions.AddRemoteSupportAgent"/> configures.</summary>
public sealed class RemoteSupportAgentRegistration
{
    /// <summary>Gets or sets the agent's configuration (identity, books, gate, data roots, ledger, audit log, fixes).</summary>
    public SupportAgentOptions? Agent { get; set; }

    /// <summary>Gets or sets how consoles connect (the unit's secure channel identity, static key and trust).</summary>
    public SupportConnectionOptions? Connection { get; set; }
}

/// <summary>What <see cref="RemoteSupportServiceCollectionExtensions.AddRemoteSupportConsole"/> configures.</summary>
public sealed class RemoteSupportConsoleRegistration
{
    /// <summary>Gets or sets how the console connects (the technician's identity and the units' keys).</summary>
    public SupportConnectionOptions? Connection { get; set; }
}

/// <summary>Registers RemoteSupport's agent and console with a host's services; the options are validated when the host starts.</summary>
public static class RemoteSupportServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="SupportAgent"/> and <see cref="SupportAgentHost"/> as singletons, configured by
    /// <paramref name="configure"/>; the configuration is checked at start (a missing identity, static key,
    /// trust store or accepted peer fails the start with a sentence naming it).
    /// </summary>
    public static IServiceCollection AddRemoteSupportAgent(this IServiceCollection services, Action<IServiceProvider, RemoteSupportAgentRegistration> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RemoteSupportAgentRegistration>().Configure<IServiceProvider>((registration, provider) => configure(provider, registration)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RemoteSupportAgentRegistration>, AgentValidation>());
        services.TryAddSingleton(provider =>
        {
            SupportAgentOptions agent = provider.GetRequiredService<IOptions<RemoteSupportAgentRegistration>>().Value.Agent!;
            if (agent.Logger is NullLogger && provider.GetService<ILoggerFactory>() is { } loggers)
            {
                agent.Logger = loggers.CreateLogger("RemoteSupport.Agent");
            }

            return new SupportAgent(agent);
        });
        services.TryAddSingleton(provider => new SupportAgentHost(
            provider.GetRequiredService<SupportAgent>(), provider.GetRequiredService<IOptions<RemoteSupportAgentRegistration>>().Value.Connection!));
        return services;
    }

    /// <summary>Registers <see cref="SupportConsole"/> as a singleton, configured by <paramref name="configure"/> and checked at start.</summary>
    public static IServiceCollection AddRemoteSupportConsole(this IServiceCollection services, Action<IServiceProvider, RemoteSupportConsoleRegistration> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RemoteSupportConsoleRegistration>().Configure<IServiceProvider>((registration, provider) => configure(provider, registration)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RemoteSupportConsoleRegistration>, ConsoleValidation>());
        services.TryAddSingleton(provider => new SupportConsole(provider.GetRequiredService<IOptions<RemoteSupportConsoleRegistration>>().Value.Connection!));
        return services;
    }

    private static List<string> CheckConnection(SupportConnectionOptions? connection, PartyRole role, bool responder)
    {
        var failures = new List<string>();
        if (connection is null)
        {
            failures.Add("Connection is not set: the secure channel needs an identity and a trust store.");
            return failures;
        }

        if (connection.Secure.Identity is null)
        {
            failures.Add("Connection.Secure.Identity is not set.");
        }
        else if (connection.Secure.Identity.Role != role)
        {
            failures.Add($"Connection.Secure.Identity is a {connection.Secure.Identity.Role.ToText()} key; this side needs a {role.ToText()} key.");
        }

        if (connection.Secure.TrustStore is null)
        {
            failures.Add("Connection.Secure.TrustStore is not set: no peer could be authenticated.");
        }

        if (connection.Secure.AcceptedPeers.Count == 0)
        {
            failures.Add("Connection.Secure.AcceptedPeers is empty: every peer would be refused.");
        }

        if (responder && connection.Secure.StaticKey is null)
        {
            failures.Add("Connection.Secure.StaticKey is not set: an agent answering consoles needs its Noise static key.");
        }

        if (connection.MaxConnections < 1 || connection.MaxPendingHandshakes < 1)
        {
            failures.Add("Connection.MaxConnections and Connection.MaxPendingHandshakes must each be at least 1.");
        }

        try
        {
            connection.Channels?.Validate();
            connection.Framing?.Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add(ex.Message);
        }

        return failures;
    }

    private sealed class AgentValidation : IValidateOptions<RemoteSupportAgentRegistration>
    {
        public ValidateOptionsResult Validate(string? name, RemoteSupportAgentRegistration options)
        {
            List<string> failures = CheckConnection(options.Connection, PartyRole.Unit, responder: true);
            if (options.Agent is null)
            {
                failures.Add("Agent is not set: the agent needs its identity, books, gate, data roots, audit log and ledger.");
            }
            else
            {
                if (options.Agent.Identity.Role != PartyRole.Unit)
                {
                    failures.Add("Agent.Identity must be the unit's key: it signs session receipts.");
                }

                if (options.Agent.ApprovalTimeout <= TimeSpan.Zero)
                {
                    failures.Add("Agent.ApprovalTimeout must be positive.");
                }

                if (options.Agent.Fixes is { } fixes && (string.IsNullOrWhiteSpace(fixes.Inbox) || fixes.MaxPackageBytes <= 0))
                {
                    failures.Add("Agent.Fixes needs an inbox folder and a positive MaxPackageBytes.");
                }
            }

            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }

    private sealed class ConsoleValidation : IValidateOptions<RemoteSupportConsoleRegistration>
    {
        public ValidateOptionsResult Validate(string? name, RemoteSupportConsoleRegistration options)
        {
            List<string> failures = CheckConnection(options.Connection, PartyRole.Technician, responder: false);
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
