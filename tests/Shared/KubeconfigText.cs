namespace AksAuditd.Tests.Shared;

/// <summary>
/// A kubeconfig as a cluster hands one out: one cluster (its server, and for https the authority that issued the
/// server's certificate, inline), one user with a bearer token, one current context.
/// </summary>
public static class KubeconfigText
{
    public static string For(string server, string token, string? authorityPem = null)
    {
        var authority = authorityPem is null
            ? string.Empty
            : $"\n      certificate-authority-data: {Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(authorityPem))}";
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
              - name: test
                cluster:
                  server: {server}{authority}
            users:
              - name: current
                user:
                  token: {token}
            contexts:
              - name: current
                context:
                  cluster: test
                  user: current
            current-context: current

            """;
    }
}
