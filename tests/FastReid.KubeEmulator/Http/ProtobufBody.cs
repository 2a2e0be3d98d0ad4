using System.Text;
using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// Decodes the Kubernetes protobuf envelope for the kinds kubectl's typed generators send
/// (<c>kubectl create configmap|secret|namespace</c> always use protobuf, with no JSON fallback in
/// kubectl 1.32). Field numbers are those of k8s.io/api generated.proto. Other kinds answer 415.
/// </summary>
internal static class ProtobufBody
{
    static readonly byte[] Magic = "k8s\0"u8.ToArray();

    public static JsonObject Decode(byte[] body)
    {
        if (body.Length < 4 || !body.AsSpan(0, 4).SequenceEqual(Magic))
            throw ApiException.BadRequest("protobuf body lacks the k8s envelope");
        string apiVersion = "", kind = "";
        byte[] raw = [];
        foreach (var (field, value) in Fields(body.AsMemory(4)))
        {
            if (field == 1)
                foreach (var (f, v) in Fields(value))
                {
                    if (f == 1) apiVersion = Str(v);
                    if (f == 2) kind = Str(v);
                }
            if (field == 2) raw = value.ToArray();
        }
        var obj = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        switch ((apiVersion, kind))
        {
            case ("v1", "ConfigMap"):
                foreach (var (f, v) in Fields(raw))
                    switch (f)
                    {
                        case 1: obj["metadata"] = ObjectMeta(v); break;
                        case 2: MapEntry(obj, "data", v, bytes: false); break;
                        case 3: MapEntry(obj, "binaryData", v, bytes: true); break;
                    }
                break;
            case ("v1", "Secret"):
                foreach (var (f, v) in Fields(raw))
                    switch (f)
                    {
                        case 1: obj["metadata"] = ObjectMeta(v); break;
                        case 2: MapEntry(obj, "data", v, bytes: true); break;
                        case 3: obj["type"] = Str(v); break;
                        case 4: MapEntry(obj, "stringData", v, bytes: false); break;
                    }
                break;
            case ("v1", "Namespace"):
                foreach (var (f, v) in Fields(raw))
                    if (f == 1) obj["metadata"] = ObjectMeta(v);
                break;
            default:
                throw new ApiException(415, "UnsupportedMediaType",
                    $"the emulator decodes protobuf only for ConfigMap, Secret and Namespace; send {apiVersion} {kind} as application/json");
        }
        return obj;
    }

    static JsonObject ObjectMeta(ReadOnlyMemory<byte> data)
    {
        var meta = new JsonObject();
        foreach (var (f, v) in Fields(data))
            switch (f)
            {
                case 1: meta["name"] = Str(v); break;
                case 2: meta["generateName"] = Str(v); break;
                case 3: meta["namespace"] = Str(v); break;
                case 11: MapEntry(meta, "labels", v, bytes: false); break;
                case 12: MapEntry(meta, "annotations", v, bytes: false); break;
                case 14:
                    var list = meta["finalizers"] as JsonArray ?? new JsonArray();
                    list.Add(Str(v));
                    meta["finalizers"] = list;
                    break;
            }
        foreach (var key in new[] { "name", "generateName", "namespace" })
            if (meta[key] is JsonValue s && s.GetValue<string>().Length == 0) meta.Remove(key);
        return meta;
    }

    static void MapEntry(JsonObject target, string field, ReadOnlyMemory<byte> entry, bool bytes)
    {
        string key = "", value = "";
        foreach (var (f, v) in Fields(entry))
        {
            if (f == 1) key = Str(v);
            if (f == 2) value = bytes ? Convert.ToBase64String(v.Span) : Str(v);
        }
        var map = target[field] as JsonObject ?? new JsonObject();
        map[key] = value;
        target[field] = map;
    }

    static string Str(ReadOnlyMemory<byte> v) => Encoding.UTF8.GetString(v.Span);

    /// <summary>Length-delimited fields of a protobuf message (varint and fixed fields are skipped: none we need).</summary>
    static IEnumerable<(int Field, ReadOnlyMemory<byte> Value)> Fields(ReadOnlyMemory<byte> data)
    {
        var pos = 0;
        while (pos < data.Length)
        {
            var tag = Varint(data.Span, ref pos);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0: Varint(data.Span, ref pos); break;
                case 1: pos += 8; break;
                case 5: pos += 4; break;
                case 2:
                    var length = (int)Varint(data.Span, ref pos);
                    if (pos + length > data.Length) throw ApiException.BadRequest("truncated protobuf body");
                    yield return (field, data.Slice(pos, length));
                    pos += length;
                    break;
                default: throw ApiException.BadRequest("unsupported protobuf wire type");
            }
        }
    }

    static ulong Varint(ReadOnlySpan<byte> span, ref int pos)
    {
        ulong result = 0;
        for (var shift = 0; pos < span.Length; shift += 7)
        {
            var b = span[pos++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw ApiException.BadRequest("truncated protobuf varint");
    }
}
