using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RemoteSupport.Journal;
using RemoteSupport.Ledger;
using RemoteSupport.Sessions;

namespace RemoteSupport.Transport.Sessions;

/// <summary>
/// Registers RemoteSupport's agent (a hosted service that opens the unit's state and serves sessions) and
/// console with a host's services. Options are plain properties that bind from <see cref="IConfiguration"/>;
/// they are validated when the host starts (<c>ValidateOnStart</c>) by the same checks that run when an
/// agent or console is built without DI.
/// </summary>
public static class RemoteSupportServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="SupportAgentService"/> as a singleton and hosted service, configured in code:
    /// at host start it opens the agent from <see cref="SupportAgentOptions.StateFolder"/> and listens
    /// (or dials out) as <paramref name="host"/> says.
    /// </summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets the agent's options: settings, the unit's key, trust and the contract's documents.</param>
    /// <param name="host">Sets where connections come from (<see cref="SupportAgentHostOptions.Listen"/> or <see cref="SupportAgentHostOptions.DialOut"/>).</param>
    public static IServiceCollection AddRemoteSupportAgent(this IServiceCollection services, Action<SupportAgentOptions> configure, Action<SupportAgentHostOptions> host)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(host);
        services.AddOptions<SupportAgentOptions>().Configure(configure);
        services.AddOptions<SupportAgentHostOptions>().Configure(host);
        return AddAgentServices(services);
    }

    /// <summary>
    /// Registers <see cref="SupportAgentService"/> with its settings bound from <paramref name="configuration"/>
    /// (one section holds both <see cref="SupportAgentOptions"/> and <see cref="SupportAgentHostOptions"/>:
    /// <c>UnitId</c>, <c>CustomerId</c>, <c>StateFolder</c>, <c>DataRoots:finance</c>, <c>Listen</c>, …) and
    /// what only code can give (keys, trust, documents) set by <paramref name="configure"/> after binding.
    /// </summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration section of the agent.</param>
    /// <param name="configure">Sets the unit's key, trust and the contract's documents.</param>
    public static IServiceCollection AddRemoteSupportAgent(this IServiceCollection services, IConfiguration configuration, Action<SupportAgentOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SupportAgentOptions>().Bind(configuration).Configure(configure);
        services.AddOptions<SupportAgentHostOptions>().Bind(configuration);
        return AddAgentServices(services);
    }

    /// <summary>Registers <see cref="SupportConsole"/> as a singleton, configured in code and checked at host start.</summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets the technician's key, the trusted units and the customers served.</param>
    public static IServiceCollection AddRemoteSupportConsole(this IServiceCollection services, Action<SupportConsoleOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SupportConsoleOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SupportConsoleOptions>>(
            new Checked<SupportConsoleOptions>(options => options.Validate())));
        services.TryAddSingleton(provider => new SupportConsole(provider.GetRequiredService<IOptions<SupportConsoleOptions>>().Value));
        return services;
    }

    /// <summary>
    /// Registers <see cref="Fleet.UnitConnector"/> as a singleton and hosted service: at host start it opens the agent from
    /// <see cref="SupportAgentOptions.StateFolder"/> and holds a standing connection to the vendor's console hosts.
    /// </summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets the agent's options: settings, the unit's key, trust and the contract's documents.</param>
    /// <param name="connector">Sets the console hosts (<see cref="Fleet.UnitConnectorOptions.Endpoints"/>) and the backoff.</param>
    public static IServiceCollection AddRemoteSupportUnitConnector(this IServiceCollection services, Action<SupportAgentOptions> configure, Action<Fleet.UnitConnectorOptions> connector)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(connector);
        services.AddOptions<SupportAgentOptions>().Configure(configure).ValidateOnStart();
        services.AddOptions<Fleet.UnitConnectorOptions>().Configure(connector).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SupportAgentOptions>>(
            new Checked<SupportAgentOptions>(options => options.Validate())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Fleet.UnitConnectorOptions>>(
            new Checked<Fleet.UnitConnectorOptions>(options => options.Validate())));
        services.TryAddSingleton<Fleet.UnitConnector>();
        services.AddHostedService(provider => provider.GetRequiredService<Fleet.UnitConnector>());
        return services;
    }

    /// <summary>Registers <see cref="Fleet.UnitDirectory"/> as a singleton and hosted service: a console host units hold standing connections to.</summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets the host's vendor key, the units it trusts, the customers it serves and where it listens.</param>
    public static IServiceCollection AddRemoteSupportUnitDirectory(this IServiceCollection services, Action<Fleet.UnitDirectoryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<Fleet.UnitDirectoryOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Fleet.UnitDirectoryOptions>>(
            new Checked<Fleet.UnitDirectoryOptions>(options => options.Validate())));
        // The shared routing and the host's loggers, when the host has them (AddRemoteSupportPostgreSql registers the routing).
        services.AddOptions<Fleet.UnitDirectoryOptions>().PostConfigure<IServiceProvider>((options, provider) =>
        {
            options.Routes ??= provider.GetService<Fleet.IUnitRouteStore>();
            if (ReferenceEquals(options.Logger, NullLogger.Instance) && provider.GetService<ILoggerFactory>() is { } loggers)
            {
                options.Logger = loggers.CreateLogger<Fleet.UnitDirectory>();
            }
        });
        services.TryAddSingleton<Fleet.UnitDirectory>();
        services.AddHostedService(provider => provider.GetRequiredService<Fleet.UnitDirectory>());
        return services;
    }

    /// <summary>
    /// Registers the vendor's books (<see cref="VendorBooks"/>: a ledger and a receipt archive per customer, the issued
    /// statements) on journal files under <paramref name="folder"/>, for one console host. A store registered before or
    /// after (<c>AddRemoteSupportPostgreSql</c>) takes the place of the files.
    /// </summary>
    /// <returns>The services, for chaining.</returns>
    /// <param name="services">The host's services.</param>
    /// <param name="folder">The folder of the journal files.</param>
    public static IServiceCollection AddRemoteSupportVendorBooks(this IServiceCollection services, string folder)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        services.TryAddSingleton<IRecordJournalStore>(_ => new FileRecordJournalStore(folder));
        return AddVendorBooks(services);
    }

    private static IServiceCollection AddVendorBooks(IServiceCollection services)
    {
        services.TryAddSingleton(provider => new VendorBooks(provider.GetRequiredService<IRecordJournalStore>(), provider.GetService<TimeProvider>()));
        return services;
    }

    private static IServiceCollection AddAgentServices(IServiceCollection services)
    {
        services.AddOptions<SupportAgentOptions>().ValidateOnStart();
        services.AddOptions<SupportAgentHostOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SupportAgentOptions>>(
            new Checked<SupportAgentOptions>(options => options.Validate())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SupportAgentHostOptions>>(
            new Checked<SupportAgentHostOptions>(options => options.Validate())));
        services.TryAddSingleton<SupportAgentService>();
        services.AddHostedService(provider => provider.GetRequiredService<SupportAgentService>());
        return services;
    }

    /// <summary>The options' own checks, as the host's start runs them.</summary>
    private sealed class Checked<TOptions>(Func<TOptions, IReadOnlyList<string>> check) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            IReadOnlyList<string> problems = check(options);
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
