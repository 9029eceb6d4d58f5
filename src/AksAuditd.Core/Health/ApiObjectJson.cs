using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Models;

namespace AksAuditd.Core.Health;

/// <summary>
/// The API clients of the agent and of Get-AuditFleetStatus: KubernetesClient's typed calls, with the JSON metadata
/// of the few API objects they exchange (<see cref="ApiObjectJsonContext"/>) in place of the library's own, and
/// Nodes read down to what is used of them.
/// </summary>
/// <remarks>
/// KubernetesClient's metadata context answers for each of its 1,199 types by comparing the type asked for with
/// every one of them in turn, in one method; compiling and running that method loads every model type the library
/// has. This context is generated at build time into this assembly, which the image compiles ahead of time, and
/// knows only the types below. A type it does not know fails the call (NotSupportedException) instead of falling
/// back to the library's, so a test that makes a new call shows the gap at once.
/// </remarks>
internal static class ApiObjectJson
{
    /// <summary>
    /// The JSON properties read of the objects that carry a Node's whole state. The API server answers a status
    /// patch with the whole Node (images, capacity, system info, managed fields: tens of kilobytes on a real node)
    /// every five minutes; the agent and the fleet view read only its name and conditions, so the rest is skipped
    /// by the reader instead of being built into objects nobody reads.
    /// </summary>
    private static readonly Dictionary<Type, string[]> ReadProperties = new()
    {
        [typeof(V1Node)] = ["apiVersion", "kind", "metadata", "status"],
        [typeof(V1NodeStatus)] = ["conditions"],
        [typeof(V1ObjectMeta)] = ["name", "namespace", "uid", "resourceVersion"],
    };

    private static readonly IJsonTypeInfoResolver Resolver = ApiObjectJsonContext.Default.WithAddedModifier(KeepReadProperties);

    /// <summary>A client on <paramref name="configuration"/> that reads and writes API objects with this assembly's metadata.</summary>
    public static IKubernetes Client(KubernetesClientConfiguration configuration)
    {
        // The configuration holds its own copy of the library's options (converters, null handling): only the
        // source of the type metadata changes.
        configuration.AddJsonOptions(options => options.TypeInfoResolver = Resolver);
        return new Kubernetes(configuration);
    }

    /// <summary>The body of a patch, as the library would write it: a patch's content is sent as this text, unchanged.</summary>
    public static string PatchBody<T>(T value) =>
        JsonSerializer.Serialize(value, (JsonTypeInfo<T>)ApiObjectJsonContext.Default.GetTypeInfo(typeof(T))!);

    private static void KeepReadProperties(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || !ReadProperties.TryGetValue(info.Type, out var kept))
        {
            return;
        }

        for (var i = info.Properties.Count - 1; i >= 0; i--)
        {
            if (Array.IndexOf(kept, info.Properties[i].Name) < 0)
            {
                info.Properties.RemoveAt(i);
            }
        }
    }
}

/// <summary>
/// A merge patch that adds one occurrence to an events.k8s.io/v1 Event's series. Its time is written here in
/// MicroTime's own form (six fractional digits), which the model's DateTime would drop for a whole second.
/// </summary>
internal sealed record EventSeriesPatch([property: JsonPropertyName("series")] EventSeriesPatch.Occurrences Series)
{
    public sealed record Occurrences(
        [property: JsonPropertyName("count")] int Count,
        [property: JsonPropertyName("lastObservedTime")] string LastObservedTime);
}

/// <summary>The API objects the agent and Get-AuditFleetStatus send and receive, with KubernetesClient's settings.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(KubernetesJson.KubernetesDateTimeConverter), typeof(KubernetesJson.KubernetesDateTimeOffsetConverter), typeof(KubernetesJson.Iso8601TimeSpanConverter)])]
[JsonSerializable(typeof(V1Node))]
[JsonSerializable(typeof(V1NodeList))]
[JsonSerializable(typeof(Eventsv1Event))]
[JsonSerializable(typeof(V1Patch))]
[JsonSerializable(typeof(EventSeriesPatch))]
internal sealed partial class ApiObjectJsonContext : JsonSerializerContext;
