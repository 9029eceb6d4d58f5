using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AksAuditd.Tests.Shared;

/// <summary>One request as the fake API server received it, after it passed the shape checks.</summary>
public sealed record ApiRequest(string Method, string Path, string? Query, string? ContentType, string? Authorization, JsonNode? Body);

/// <summary>
/// The part of a Kubernetes API server the agent talks to, on 127.0.0.1, at the wire level: each request is
/// checked against the API's documented shape (method, path, content type, body) and answered as the API
/// server answers, including its error responses (a v1 Status object with reason and code). There is no
/// API server to run on these machines; the shapes below come from the Kubernetes API reference:
/// <list type="bullet">
/// <item>GET /api/v1/nodes/{name}, GET /api/v1/nodes (list, limit/continue);</item>
/// <item>PATCH /api/v1/nodes/{name}/status with application/strategic-merge-patch+json, body {"status":{"conditions":[...]}};</item>
/// <item>POST /apis/events.k8s.io/v1/namespaces/{ns}/events with application/json, an events.k8s.io/v1 Event
///   (eventTime, reportingController, reportingInstance, action, reason, regarding required);</item>
/// <item>PATCH /apis/events.k8s.io/v1/namespaces/{ns}/events/{name} with application/merge-patch+json.</item>
/// </list>
/// A request of any other shape is answered 400 and recorded in <see cref="Violations"/>, which tests assert empty.
/// </summary>
public sealed class FakeApiServer : IDisposable
{
    public const string Token = "test-token-1";

    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private readonly ConcurrentQueue<(string Route, int Status)> _failures = new();
    private readonly Dictionary<string, JsonObject> _events = new(StringComparer.Ordinal);

    public FakeApiServer(params JsonObject[] nodes)
    {
        Port = FreePort();
        foreach (var node in nodes)
        {
            Nodes[node["metadata"]!["name"]!.GetValue<string>()] = node;
        }

        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public ConcurrentQueue<ApiRequest> Requests { get; } = new();

    public ConcurrentQueue<string> Violations { get; } = new();

    public Dictionary<string, JsonObject> Nodes { get; } = new(StringComparer.Ordinal);

    /// <summary>The bearer token the server accepts now (<see cref="Token"/> unless told otherwise); any other is answered 401, as an expired one is.</summary>
    public Func<string> AcceptedToken { get; init; } = () => Token;

    public IReadOnlyDictionary<string, JsonObject> Events
    {
        get
        {
            lock (_events)
            {
                return new Dictionary<string, JsonObject>(_events);
            }
        }
    }

    /// <summary>Answers the next request of <paramref name="route"/> (get-node, list-nodes, patch-status, create-event, patch-event) with this error.</summary>
    public void FailNext(string route, int status) => _failures.Enqueue((route, status));

    public static JsonObject Node(string name, params (string Type, string Status, string Reason, string Message)[] conditions) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Node",
        ["metadata"] = new JsonObject { ["name"] = name, ["uid"] = Guid.NewGuid().ToString(), ["resourceVersion"] = "1" },
        ["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(conditions.Select(c => (JsonNode)new JsonObject
            {
                ["type"] = c.Type,
                ["status"] = c.Status,
                ["reason"] = c.Reason,
                ["message"] = c.Message,
                ["lastHeartbeatTime"] = "2026-01-01T00:00:00Z",
                ["lastTransitionTime"] = "2026-01-01T00:00:00Z",
            }).ToArray()),
        },
    };

    /// <summary>
    /// A Node as an AKS API server returns it, whole (tests/fixtures/kubernetes/aks-node.json: labels, managed fields,
    /// capacity, system info, images, node-problem-detector's conditions), renamed, with these conditions added.
    /// </summary>
    public static JsonObject AksNode(string name, params (string Type, string Status, string Reason, string Message)[] conditions)
    {
        var node = JsonNode.Parse(File.ReadAllText(AksNodeFixture))!.AsObject();
        node["metadata"]!["name"] = name;
        var list = node["status"]!["conditions"]!.AsArray();
        foreach (var added in Node(name, conditions)["status"]!["conditions"]!.AsArray())
        {
            list.Add(added!.DeepClone());
        }

        return node;
    }

    /// <summary>tests/fixtures/kubernetes/aks-node.json in the checkout.</summary>
    public static string AksNodeFixture => RepositoryCheckout.PathOf("tests", "fixtures", "kubernetes", "aks-node.json");

    public void Dispose()
    {
        // Close alone: after Stop the managed HttpListener has already given its endpoint back, and Close looks it up
        // again and binds the port anew to remove it, which fails ("Address already in use") once a test running in
        // parallel has been handed that port.
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
    }

    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Handle(context);
            }
            catch (Exception e)
            {
                Violations.Enqueue($"server error: {e}");
                Answer(context.Response, 500, Status(500, "InternalError", e.Message));
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var path = request.Url!.AbsolutePath;
        var method = request.HttpMethod;
        string text;
        using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
        {
            text = reader.ReadToEnd();
        }

        JsonNode? body = null;
        if (text.Length > 0)
        {
            try
            {
                body = JsonNode.Parse(text);
            }
            catch (JsonException e)
            {
                Reject(context, $"{method} {path}: body is not JSON ({e.Message})");
                return;
            }
        }

        var contentType = request.ContentType?.Split(';')[0].Trim();
        Requests.Enqueue(new ApiRequest(method, path, request.Url.Query, contentType, request.Headers["Authorization"], body));
        if (request.Headers["Authorization"] != $"Bearer {AcceptedToken()}")
        {
            Answer(context.Response, 401, Status(401, "Unauthorized", "Unauthorized"));
            return;
        }

        var segments = path.Trim('/').Split('/');
        var route = (method, segments) switch
        {
            ("GET", ["api", "v1", "nodes"]) => "list-nodes",
            ("GET", ["api", "v1", "nodes", _]) => "get-node",
            ("PATCH", ["api", "v1", "nodes", _, "status"]) => "patch-status",
            ("POST", ["apis", "events.k8s.io", "v1", "namespaces", _, "events"]) => "create-event",
            ("PATCH", ["apis", "events.k8s.io", "v1", "namespaces", _, "events", _]) => "patch-event",
            _ => null,
        };
        if (route is null)
        {
            Reject(context, $"{method} {path}: not a request the agent makes", 404);
            return;
        }

        if (_failures.TryPeek(out var failure) && failure.Route == route && _failures.TryDequeue(out _))
        {
            var reason = failure.Status switch
            {
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "NotFound",
                409 => route == "create-event" ? "AlreadyExists" : "Conflict",
                422 => "Invalid",
                429 => "TooManyRequests",
                503 => "ServiceUnavailable",
                _ => "InternalError",
            };
            if (failure.Status == 429)
            {
                context.Response.AddHeader("Retry-After", "1");
            }

            Answer(context.Response, failure.Status, Status(failure.Status, reason, $"injected {failure.Status} for {route}"));
            return;
        }

        switch (route)
        {
            case "list-nodes":
                Answer(context.Response, 200, new JsonObject
                {
                    ["apiVersion"] = "v1",
                    ["kind"] = "NodeList",
                    ["metadata"] = new JsonObject { ["resourceVersion"] = "1" },
                    ["items"] = new JsonArray(Nodes.Values.Select(n => n.DeepClone()).ToArray()),
                });
                return;
            case "get-node":
                Answer(context.Response, Nodes.TryGetValue(segments[3], out var node) ? 200 : 404, node?.DeepClone() ?? Status(404, "NotFound", $"nodes \"{segments[3]}\" not found"));
                return;
            case "patch-status":
                PatchStatus(context, segments[3], contentType, body);
                return;
            case "create-event":
                CreateEvent(context, segments[4], contentType, body);
                return;
            default:
                PatchEvent(context, segments[4], segments[6], contentType, body);
                return;
        }
    }

    private void PatchStatus(HttpListenerContext context, string name, string? contentType, JsonNode? body)
    {
        if (contentType != "application/strategic-merge-patch+json")
        {
            Reject(context, $"node status patch with content type {contentType}, not a strategic merge patch", 415);
            return;
        }

        if (body is not JsonObject patch || patch.Count != 1 || patch["status"] is not JsonObject status || status.Count != 1 || status["conditions"] is not JsonArray conditions)
        {
            Reject(context, $"node status patch is not {{\"status\":{{\"conditions\":[...]}}}}: {body?.ToJsonString()}", 422);
            return;
        }

        foreach (var condition in conditions)
        {
            foreach (var field in new[] { "type", "status", "reason", "message", "lastHeartbeatTime", "lastTransitionTime" })
            {
                if (condition?[field] is not JsonValue value || value.GetValue<string>().Length == 0)
                {
                    Reject(context, $"condition without {field}: {condition?.ToJsonString()}", 422);
                    return;
                }
            }

            if (condition!["status"]!.GetValue<string>() is not ("True" or "False" or "Unknown"))
            {
                Reject(context, $"condition status must be True, False or Unknown: {condition.ToJsonString()}", 422);
                return;
            }

            foreach (var time in new[] { "lastHeartbeatTime", "lastTransitionTime" })
            {
                // metav1.Time parses with Go's time.RFC3339 (a fraction is accepted and dropped); the agent sends whole seconds.
                if (!DateTimeOffset.TryParseExact(condition[time]!.GetValue<string>(), "yyyy-MM-dd'T'HH:mm:ss'Z'", null, System.Globalization.DateTimeStyles.AssumeUniversal, out _))
                {
                    Reject(context, $"{time} is not RFC 3339 in whole seconds (metav1.Time): {condition[time]}", 400);
                    return;
                }
            }
        }

        if (!Nodes.TryGetValue(name, out var node))
        {
            Answer(context.Response, 404, Status(404, "NotFound", $"nodes \"{name}\" not found"));
            return;
        }

        // Strategic merge of conditions: the patch key is type.
        var existing = node["status"]!["conditions"]!.AsArray();
        foreach (var condition in conditions)
        {
            var type = condition!["type"]!.GetValue<string>();
            var index = existing.Select((c, i) => (c, i)).Where(p => p.c!["type"]!.GetValue<string>() == type).Select(p => p.i).DefaultIfEmpty(-1).First();
            if (index >= 0)
            {
                existing[index] = condition.DeepClone();
            }
            else
            {
                existing.Add(condition.DeepClone());
            }
        }

        Answer(context.Response, 200, node.DeepClone());
    }

    private void CreateEvent(HttpListenerContext context, string ns, string? contentType, JsonNode? body)
    {
        if (contentType != "application/json")
        {
            Reject(context, $"event create with content type {contentType}", 415);
            return;
        }

        if (body is not JsonObject ev || ev["apiVersion"]?.GetValue<string>() != "events.k8s.io/v1" || ev["kind"]?.GetValue<string>() != "Event")
        {
            Reject(context, $"not an events.k8s.io/v1 Event: {body?.ToJsonString()}", 400);
            return;
        }

        foreach (var field in new[] { "eventTime", "reportingController", "reportingInstance", "action", "reason", "type", "note" })
        {
            if (ev[field] is not JsonValue value || value.GetValue<string>().Length == 0)
            {
                Reject(context, $"event without {field}: {ev.ToJsonString()}", 422);
                return;
            }
        }

        if (ev["type"]!.GetValue<string>() is not ("Normal" or "Warning") || ev["note"]!.GetValue<string>().Length > 1024
            || ev["action"]!.GetValue<string>().Length > 128 || ev["reason"]!.GetValue<string>().Length > 128 || ev["reportingInstance"]!.GetValue<string>().Length > 128
            || !ev["reportingController"]!.GetValue<string>().Contains('/'))
        {
            Reject(context, $"event fails validation: {ev.ToJsonString()}", 422);
            return;
        }

        if (!DateTimeOffset.TryParseExact(ev["eventTime"]!.GetValue<string>(), "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", null, System.Globalization.DateTimeStyles.AssumeUniversal, out _))
        {
            Reject(context, $"eventTime is not a MicroTime (RFC 3339, 6 fractional digits): {ev["eventTime"]}", 400);
            return;
        }

        if (ev["regarding"] is not JsonObject regarding || regarding["kind"]?.GetValue<string>() != "Node" || regarding["apiVersion"]?.GetValue<string>() != "v1" || regarding["name"] is null)
        {
            Reject(context, $"event not regarding a v1 Node: {ev.ToJsonString()}", 422);
            return;
        }

        var metadata = ev["metadata"] as JsonObject;
        var name = metadata?["name"]?.GetValue<string>();
        if (name is null || (metadata!["namespace"] is { } given && given.GetValue<string>() != ns))
        {
            Reject(context, $"event metadata.name missing or namespace differs from the path: {metadata?.ToJsonString()}", 400);
            return;
        }

        lock (_events)
        {
            if (_events.ContainsKey(name))
            {
                Answer(context.Response, 409, Status(409, "AlreadyExists", $"events.events.k8s.io \"{name}\" already exists"));
                return;
            }

            _events[name] = (JsonObject)ev.DeepClone();
        }

        Answer(context.Response, 201, ev.DeepClone());
    }

    private void PatchEvent(HttpListenerContext context, string ns, string name, string? contentType, JsonNode? body)
    {
        if (contentType is not ("application/merge-patch+json" or "application/strategic-merge-patch+json"))
        {
            Reject(context, $"event patch with content type {contentType}", 415);
            return;
        }

        if (body is not JsonObject patch || patch["series"] is not JsonObject series || series["count"] is null || series["lastObservedTime"] is null)
        {
            Reject(context, $"event patch is not a series update: {body?.ToJsonString()}", 422);
            return;
        }

        lock (_events)
        {
            if (!_events.TryGetValue(name, out var ev))
            {
                Answer(context.Response, 404, Status(404, "NotFound", $"events.events.k8s.io \"{name}\" not found"));
                return;
            }

            ev["series"] = series.DeepClone();
            Answer(context.Response, 200, ev.DeepClone());
        }
    }

    private void Reject(HttpListenerContext context, string violation, int status = 400)
    {
        Violations.Enqueue(violation);
        Answer(context.Response, status, Status(status, status == 422 ? "Invalid" : "BadRequest", violation));
    }

    private static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static void Answer(HttpListenerResponse response, int status, JsonNode body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }
}
