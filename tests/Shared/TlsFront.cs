using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AksAuditd.Tests.Shared;

/// <summary>
/// HTTPS in front of a plain-HTTP test server on 127.0.0.1, as a Kubernetes API server serves: its certificate is
/// issued for 127.0.0.1 and localhost by a certificate authority of its own, which a client trusts only when it is
/// given that authority (a kubeconfig's certificate-authority, a pod's service-account ca.crt). Each connection's
/// TLS is ended here and its bytes relayed to the backend unchanged, so the backend sees the client's requests.
/// </summary>
public sealed class TlsFront : IDisposable
{
    private readonly TcpListener _listener;
    private readonly X509Certificate2 _certificate;
    private readonly int _backendPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _handshakes;

    /// <param name="backendPort">The plain-HTTP server's port on 127.0.0.1.</param>
    /// <param name="port">The port to serve TLS on (0: a free one).</param>
    public TlsFront(int backendPort, int port = 0)
    {
        _backendPort = backendPort;
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=aks-auditd-test-apiserver-ca", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var authority = authorityRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CertificateAuthorityPem = authority.ExportCertificatePem();

        var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=kube-apiserver", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var issued = serverRequest.Create(authority, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), RandomNumberGenerator.GetBytes(12));
        _certificate = issued.CopyWithPrivateKey(serverKey);

        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    public string Url => $"https://127.0.0.1:{Port}";

    /// <summary>The authority that issued the server's certificate, PEM: a pod's ca.crt, a kubeconfig's certificate-authority.</summary>
    public string CertificateAuthorityPem { get; }

    /// <summary>Handshakes that completed (a .NET client that does not trust the certificate completes one, then closes).</summary>
    public int Handshakes => _handshakes;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _accepting.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }

        _certificate.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        {
            SslStream tls;
            try
            {
                tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
            }
            catch (Exception e) when (e is IOException or AuthenticationException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _handshakes);
            await using (tls)
            {
                using var backend = new TcpClient();
                try
                {
                    await backend.ConnectAsync(IPAddress.Loopback, _backendPort, _stop.Token);
                    var backendStream = backend.GetStream();
                    // Either side closing ends the connection: HTTP/1.1 keep-alive is the client's to end.
                    await Task.WhenAny(tls.CopyToAsync(backendStream, _stop.Token), backendStream.CopyToAsync(tls, _stop.Token));
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }
        }
    }
}
