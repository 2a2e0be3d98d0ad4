using System.Net;
using FastReid.KubeEmulator.Controllers;
using FastReid.KubeEmulator.Http;
using FastReid.KubeEmulator.Storage;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastReid.KubeEmulator;

/// <summary>
/// An in-memory Kubernetes API server on loopback HTTP, for tests and for the standalone binary.
/// <code>await using var kube = await KubeEmulatorServer.StartAsync();
/// var client = new k8s.Kubernetes(kube.ClientConfiguration);</code>
/// </summary>
public sealed class KubeEmulatorServer : IAsyncDisposable
{
    readonly KubeEmulatorOptions _options;
    readonly ObjectStore _store;
    readonly ApiOperations _ops;
    readonly ControllerHost _controllers;
    WebApplication? _app;
    CancellationTokenSource _stopping = new();

    KubeEmulatorServer(KubeEmulatorOptions options)
    {
        _options = options;
        _store = new ObjectStore(options.HistoryWindow);
        _ops = new ApiOperations(_store, new ResourceCatalog(), Policies);
        foreach (var ns in BuiltinResources.InitialNamespaces)
            _ops.Create(BuiltinResources.Namespaces, "", new() { ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = ns } });
        _controllers = new ControllerHost(_ops, options);
        Kubelet = new Kubelet(_ops);
    }

    /// <summary>Moves pods along as a kubelet would report them (pods never run in the emulator).</summary>
    public Kubelet Kubelet { get; }

    /// <summary>Fault hooks: drop watches, expire the next watch, fail the next requests.</summary>
    public KubeFaults Faults { get; } = new();

    /// <summary>
    /// Watches subscribed now in namespace <paramref name="ns"/> ("" for watches across namespaces; null for all), of
    /// any resource type: a test that needs a client's watch to have started (kubectl wait, get -w, an informer) waits
    /// for this to grow instead of sleeping.
    /// </summary>
    public int OpenWatches(string? ns = null) => _openWatches.In(ns);

    readonly WatchStream.OpenCount _openWatches = new();

    /// <summary>The cluster's admission policies: denials a client cannot foresee (422, as ValidatingAdmissionPolicy).</summary>
    public AdmissionPolicies Policies { get; } = new();

    /// <summary>The bound port (fixed across <see cref="RestartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Base URL, e.g. http://127.0.0.1:41234.</summary>
    public string Url => $"http://{_options.Host}:{Port}";

    /// <summary>The store's current resourceVersion (the last committed revision).</summary>
    public long ResourceVersion
    {
        get { lock (_store.Gate) return _store.Revision; }
    }

    /// <summary>A fresh client configuration for KubernetesClient (namespace "default").</summary>
    public KubernetesClientConfiguration ClientConfiguration => new() { Host = Url, Namespace = "default" };

    public static async Task<KubeEmulatorServer> StartAsync(KubeEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        var server = new KubeEmulatorServer(options ?? new KubeEmulatorOptions());
        await server.StartHttpAsync(server._options.Port, cancellationToken);
        server._controllers.Start();
        return server;
    }

    /// <summary>Writes a kubeconfig (plain HTTP, no credentials, namespace default) that kubectl and KubernetesClient both accept.</summary>
    public string WriteKubeconfig(string path)
    {
        File.WriteAllText(path, Kubeconfig.Render(Url));
        return path;
    }

    /// <summary>Forgets the watch history, as an etcd compaction does: resuming from any earlier resourceVersion answers 410.</summary>
    public void CompactHistory()
    {
        lock (_store.Gate) _store.Compact();
    }

    /// <summary>Stops serving and serves again on the same port: open watches are cut, objects and history survive.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopHttpAsync();
        await StartHttpAsync(Port, cancellationToken);
    }

    /// <summary>Waits until the background controllers have handled every change committed so far.</summary>
    public Task WaitForControllersAsync(CancellationToken cancellationToken = default) => _controllers.WaitIdleAsync(cancellationToken);

    async Task StartHttpAsync(int port, CancellationToken cancellationToken)
    {
        _stopping = new CancellationTokenSource();
        var stopping = _stopping;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.Services.AddSingleton<IHostLifetime, PassiveHostLifetime>();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(ListenAddress(_options.Host), port);
            k.Limits.MaxRequestBodySize = 3 * 1024 * 1024;
        });
        var app = builder.Build();
        var handler = new ApiHandler(_ops, Faults, new WatchStream(_store, Faults, _options.BookmarkInterval, _openWatches), () => stopping.Token);
        app.Run(handler.Handle);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
        _app = app;
    }

    static IPAddress ListenAddress(string host) =>
        IPAddress.TryParse(host, out var ip) ? ip
        : host == "localhost" ? IPAddress.Loopback
        : throw new ArgumentException($"listen address must be an IP address or localhost, got '{host}'");

    async Task StopHttpAsync()
    {
        if (_app is null) return;
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopHttpAsync();
        await _controllers.DisposeAsync();
    }
}
