using System.Security.Authentication;

namespace AksAuditd.Core.Health;

/// <summary>
/// A request to the Kubernetes API that failed because its TLS did: the server's certificate is not issued by the
/// authority the client was given (the pod's ca.crt, a kubeconfig's certificate-authority). It is not a network
/// fault, and HttpClient's own message for it says only "see inner exception".
/// </summary>
internal static class ApiTlsFailure
{
    /// <summary>The TLS failure behind <paramref name="e"/>, or null when the request failed otherwise.</summary>
    public static AuthenticationException? Of(Exception e) =>
        e is HttpRequestException { InnerException: AuthenticationException tls } ? tls : null;
}
