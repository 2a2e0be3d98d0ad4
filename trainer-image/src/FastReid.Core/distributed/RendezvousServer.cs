using System.Net;
using System.Net.Sockets;

namespace FastReid.Distributed;

/// <summary>
/// The key/value store rank 0 serves at MASTER_PORT while the ranks set up (see <see cref="RendezvousStore"/>
/// for the protocol). One background thread accepts, one per client serves; a get waits until its key is
/// set, the client bounds the wait. Values are never removed: a store lives for one run.
/// </summary>
internal sealed class RendezvousServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly Dictionary<string, byte[]> _values = new(StringComparer.Ordinal);
    private readonly List<Socket> _clients = [];
    private bool _disposed;

    public int Port { get; }

    public RendezvousServer(int port)
    {
        _listener = new TcpListener(IPAddress.Any, port);
        try { _listener.Start(); }
        catch (SocketException e)
        {
            throw new FastReidException($"rank 0 cannot listen on MASTER_PORT {port} for the rendezvous: {e.Message}", e);
        }
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        new Thread(AcceptLoop) { IsBackground = true, Name = "fastreid-rendezvous" }.Start();
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket client;
            try { client = _listener.AcceptSocket(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            lock (_values)
            {
                if (_disposed) { client.Dispose(); return; }
                _clients.Add(client);
            }
            new Thread(() => Serve(client)) { IsBackground = true, Name = "fastreid-rendezvous-client" }.Start();
        }
    }

    private void Serve(Socket client)
    {
        try
        {
            using var stream = new NetworkStream(client, ownsSocket: true);
            using var reader = new BinaryReader(stream);
            using var writer = new BinaryWriter(stream);
            while (true)
            {
                var op = (RendezvousStore.Op)reader.ReadByte();
                var key = reader.ReadString();
                if (op == RendezvousStore.Op.Set)
                {
                    var value = reader.ReadBytes(reader.ReadInt32());
                    lock (_values)
                    {
                        _values[key] = value;
                        Monitor.PulseAll(_values);
                    }
                    writer.Write((byte)1);
                }
                else if (op == RendezvousStore.Op.Get)
                {
                    byte[]? value;
                    lock (_values)
                    {
                        while (!_values.TryGetValue(key, out value) && !_disposed) Monitor.Wait(_values);
                    }
                    if (value is null) return;
                    writer.Write(value.Length);
                    writer.Write(value);
                }
                else return; // not our protocol: drop the connection
                writer.Flush();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or EndOfStreamException) { }
    }

    public void Dispose()
    {
        lock (_values)
        {
            _disposed = true;
            Monitor.PulseAll(_values);
            foreach (var c in _clients) c.Dispose();
        }
        _listener.Stop();
    }
}
