using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using AksAuditd.Tests.Shared;

// The pod e2e's Kubernetes API: FakeApiServer (every request checked against the API's shapes, answered as the API
// server answers) behind HTTPS on 127.0.0.1:<port>, in the network namespace the pod's container joins.
//   AksAuditd.ApiStandIn <node name> <port> <service-account folder> <state file>
// It writes ca.crt (the authority of its certificate) into the service-account folder, where the test mounts it
// into the pod as the kubelet mounts a pod's token, and accepts only the token in that folder's token file at the
// time of each request: the test rotates the file as the kubelet rotates a projected token, and the old one is
// then answered 401, as an expired token is. After every request it rewrites the state file (requests with their
// authorization, shape violations, the Node, the Events) for the test to read, and prints "ready <url>" once it
// listens. SIGTERM or the end of stdin stops it.
if (args.Length != 4 || !int.TryParse(args[1], out var port))
{
    Console.Error.WriteLine("usage: AksAuditd.ApiStandIn <node name> <port> <service-account folder> <state file>");
    return 2;
}

var (nodeName, serviceAccount, statePath) = (args[0], args[2], args[3]);
var tokenPath = Path.Combine(serviceAccount, "token");
using var server = new FakeApiServer(FakeApiServer.AksNode(nodeName)) { AcceptedToken = () => File.ReadAllText(tokenPath).Trim() };
using var tls = new TlsFront(server.Port, port);
File.WriteAllText(Path.Combine(serviceAccount, "ca.crt"), tls.CertificateAuthorityPem);

using var stop = new CancellationTokenSource();
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
_ = Task.Run(() =>
{
    while (Console.In.Read() >= 0)
    {
    }

    stop.Cancel();
});

Console.WriteLine($"ready {tls.Url}");
while (!stop.IsCancellationRequested)
{
    // Every quarter second, not per request: a request is recorded before the server has applied it.
    WriteState();
    try
    {
        await Task.Delay(250, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }
}

WriteState();
return 0;

void WriteState()
{
    JsonObject state;
    try
    {
        state = State();
    }
    catch (InvalidOperationException)
    {
        // The server changed the Node while it was copied; the next round copies it again.
        return;
    }

    var temporary = statePath + ".tmp";
    File.WriteAllText(temporary, state.ToJsonString());
    File.Move(temporary, statePath, overwrite: true);
}

JsonObject State() => new()
{
    ["requests"] = new JsonArray(server.Requests.Select(r => (JsonNode)new JsonObject
    {
        ["method"] = r.Method,
        ["path"] = r.Path,
        ["contentType"] = r.ContentType,
        ["authorization"] = r.Authorization,
        ["body"] = r.Body?.DeepClone(),
    }).ToArray()),
    ["violations"] = new JsonArray(server.Violations.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
    ["node"] = server.Nodes[nodeName].DeepClone(),
    ["events"] = new JsonArray(server.Events.Values.Select(e => (JsonNode)e.DeepClone()).ToArray()),
};
