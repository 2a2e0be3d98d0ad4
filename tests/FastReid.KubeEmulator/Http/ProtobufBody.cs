using System.Text;
using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// Decodes the Kubernetes protobuf envelope for the kinds kubectl's typed generators send
/// (<c>kubectl create configmap|secret|namespace|service|serviceaccount|role|clusterrole|rolebinding|clusterrolebinding|job</c>
/// always use protobuf, with no JSON fallback in kubectl 1.32). Field numbers are those of the
/// generated.proto files in k8s.io/api; <c>kubectl create job</c> is decoded for the fields that generator
/// sets. Other kinds (e.g. <c>kubectl create deployment</c>) answer 415.
/// </summary>
internal static class ProtobufBody
{
    static readonly byte[] Magic = "k8s\0"u8.ToArray();

    /// <summary>One protobuf field: its number, and either a varint or a length-delimited payload.</summary>
    readonly record struct Field(int Number, ulong Varint, ReadOnlyMemory<byte> Bytes)
    {
        public string Text => Encoding.UTF8.GetString(Bytes.Span);
    }

    public static JsonObject Decode(byte[] body)
    {
        if (body.Length < 4 || !body.AsSpan(0, 4).SequenceEqual(Magic))
            throw ApiException.BadRequest("protobuf body lacks the k8s envelope");
        string apiVersion = "", kind = "";
        ReadOnlyMemory<byte> raw = default;
        foreach (var f in Fields(body.AsMemory(4)))
        {
            if (f.Number == 1)
                foreach (var t in Fields(f.Bytes))
                {
                    if (t.Number == 1) apiVersion = t.Text;
                    if (t.Number == 2) kind = t.Text;
                }
            if (f.Number == 2) raw = f.Bytes;
        }
        var obj = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        Action<Field, JsonObject> decoder = (apiVersion, kind) switch
        {
            ("v1", "ConfigMap") => ConfigMap,
            ("v1", "Secret") => Secret,
            ("v1", "Namespace") or ("v1", "ServiceAccount") => (_, _) => { },
            ("v1", "Service") => Service,
            ("rbac.authorization.k8s.io/v1", "Role" or "ClusterRole") => Role,
            ("rbac.authorization.k8s.io/v1", "RoleBinding" or "ClusterRoleBinding") => RoleBinding,
            ("batch/v1", "Job") => Job,
            _ => throw new ApiException(415, "UnsupportedMediaType",
                $"the emulator decodes protobuf only for the kinds kubectl's create generators send; send {apiVersion} {kind} as application/json"),
        };
        foreach (var f in Fields(raw))
            if (f.Number == 1) obj["metadata"] = ObjectMeta(f.Bytes);
            else decoder(f, obj);
        return obj;
    }

    static void ConfigMap(Field f, JsonObject obj)
    {
        if (f.Number == 2) MapEntry(obj, "data", f.Bytes, bytes: false);
        if (f.Number == 3) MapEntry(obj, "binaryData", f.Bytes, bytes: true);
    }

    static void Secret(Field f, JsonObject obj)
    {
        if (f.Number == 2) MapEntry(obj, "data", f.Bytes, bytes: true);
        if (f.Number == 3) obj["type"] = f.Text;
        if (f.Number == 4) MapEntry(obj, "stringData", f.Bytes, bytes: false);
    }

    static void Service(Field f, JsonObject obj)
    {
        if (f.Number != 2) return;
        var spec = new JsonObject();
        foreach (var s in Fields(f.Bytes))
            switch (s.Number)
            {
                case 1:
                    var port = new JsonObject();
                    foreach (var p in Fields(s.Bytes))
                        switch (p.Number)
                        {
                            case 1: port["name"] = p.Text; break;
                            case 2: port["protocol"] = p.Text; break;
                            case 3: port["port"] = (int)p.Varint; break;
                            case 4: port["targetPort"] = IntOrString(p.Bytes); break;
                            case 5 when p.Varint != 0: port["nodePort"] = (int)p.Varint; break;
                        }
                    Append(spec, "ports", port);
                    break;
                case 2: MapEntry(spec, "selector", s.Bytes, bytes: false); break;
                case 3: spec["clusterIP"] = s.Text; break;
                case 4: spec["type"] = s.Text; break;
                // Go's protobuf writes zero values; JSON's omitempty would not, so neither do we.
                case 10 when s.Bytes.Length > 0: spec["externalName"] = s.Text; break;
                case 18 when s.Bytes.Length > 0: Append(spec, "clusterIPs", s.Text); break;
            }
        if (spec["clusterIP"] is JsonValue ip && ip.GetValue<string>().Length == 0) spec.Remove("clusterIP");
        obj["spec"] = spec;
    }

    static void Role(Field f, JsonObject obj)
    {
        if (f.Number != 2) return;
        var rule = new JsonObject();
        foreach (var r in Fields(f.Bytes))
        {
            var name = r.Number switch { 1 => "verbs", 2 => "apiGroups", 3 => "resources", 4 => "resourceNames", 5 => "nonResourceURLs", _ => null };
            if (name is not null) Append(rule, name, r.Text);
        }
        Append(obj, "rules", rule);
    }

    static void RoleBinding(Field f, JsonObject obj)
    {
        if (f.Number is not (2 or 3)) return;
        var names = f.Number == 2 ? new[] { "", "kind", "apiGroup", "name", "namespace" } : ["", "apiGroup", "kind", "name"];
        var item = new JsonObject();
        foreach (var s in Fields(f.Bytes))
            if (s.Number < names.Length && s.Bytes.Length > 0) item[names[s.Number]] = s.Text;
        if (f.Number == 2) Append(obj, "subjects", item);
        else obj["roleRef"] = item;
    }

    /// <summary>What `kubectl create job NAME --image=I [-- CMD ARGS]` fills in: counts, template, containers.</summary>
    static void Job(Field f, JsonObject obj)
    {
        if (f.Number != 2) return;
        var spec = new JsonObject();
        foreach (var s in Fields(f.Bytes))
            switch (s.Number)
            {
                case 1: spec["parallelism"] = (int)s.Varint; break;
                case 2: spec["completions"] = (int)s.Varint; break;
                case 3: spec["activeDeadlineSeconds"] = (long)s.Varint; break;
                case 7: spec["backoffLimit"] = (int)s.Varint; break;
                case 8: spec["ttlSecondsAfterFinished"] = (int)s.Varint; break;
                case 9 when s.Bytes.Length > 0: spec["completionMode"] = s.Text; break;
                case 10: spec["suspend"] = s.Varint != 0; break;
                case 6:
                    var template = new JsonObject();
                    foreach (var t in Fields(s.Bytes))
                        if (t.Number == 1) template["metadata"] = ObjectMeta(t.Bytes);
                        else if (t.Number == 2) template["spec"] = PodSpec(t.Bytes);
                    spec["template"] = template;
                    break;
            }
        obj["spec"] = spec;
    }

    static JsonObject PodSpec(ReadOnlyMemory<byte> data)
    {
        var spec = new JsonObject();
        foreach (var f in Fields(data))
            switch (f.Number)
            {
                case 2:
                    var container = new JsonObject();
                    foreach (var c in Fields(f.Bytes))
                        switch (c.Number)
                        {
                            case 1: container["name"] = c.Text; break;
                            case 2 when c.Bytes.Length > 0: container["image"] = c.Text; break;
                            case 3: Append(container, "command", c.Text); break;
                            case 4: Append(container, "args", c.Text); break;
                            case 5 when c.Bytes.Length > 0: container["workingDir"] = c.Text; break;
                            case 14 when c.Bytes.Length > 0: container["imagePullPolicy"] = c.Text; break;
                        }
                    Append(spec, "containers", container);
                    break;
                case 3 when f.Bytes.Length > 0: spec["restartPolicy"] = f.Text; break;
                case 8 when f.Bytes.Length > 0: spec["serviceAccountName"] = f.Text; break;
            }
        return spec;
    }

    static JsonNode IntOrString(ReadOnlyMemory<byte> data)
    {
        ulong type = 0, intVal = 0;
        var strVal = "";
        foreach (var f in Fields(data))
        {
            if (f.Number == 1) type = f.Varint;
            if (f.Number == 2) intVal = f.Varint;
            if (f.Number == 3) strVal = f.Text;
        }
        return type == 1 ? JsonValue.Create(strVal) : JsonValue.Create((int)intVal);
    }

    static JsonObject ObjectMeta(ReadOnlyMemory<byte> data)
    {
        var meta = new JsonObject();
        foreach (var f in Fields(data))
            switch (f.Number)
            {
                case 1 when f.Bytes.Length > 0: meta["name"] = f.Text; break;
                case 2 when f.Bytes.Length > 0: meta["generateName"] = f.Text; break;
                case 3 when f.Bytes.Length > 0: meta["namespace"] = f.Text; break;
                case 11: MapEntry(meta, "labels", f.Bytes, bytes: false); break;
                case 12: MapEntry(meta, "annotations", f.Bytes, bytes: false); break;
                case 14: Append(meta, "finalizers", f.Text); break;
            }
        return meta;
    }

    static void Append(JsonObject target, string field, JsonNode item)
    {
        var list = target[field] as JsonArray ?? new JsonArray();
        list.Add(item);
        target[field] = list;
    }

    static void MapEntry(JsonObject target, string field, ReadOnlyMemory<byte> entry, bool bytes)
    {
        string key = "", value = "";
        foreach (var f in Fields(entry))
        {
            if (f.Number == 1) key = f.Text;
            if (f.Number == 2) value = bytes ? Convert.ToBase64String(f.Bytes.Span) : f.Text;
        }
        var map = target[field] as JsonObject ?? new JsonObject();
        map[key] = value;
        target[field] = map;
    }

    static IEnumerable<Field> Fields(ReadOnlyMemory<byte> data)
    {
        var pos = 0;
        while (pos < data.Length)
        {
            var tag = Varint(data.Span, ref pos);
            var number = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0: yield return new Field(number, Varint(data.Span, ref pos), default); break;
                case 1: pos += 8; break;
                case 5: pos += 4; break;
                case 2:
                    var length = (int)Varint(data.Span, ref pos);
                    if (pos + length > data.Length) throw ApiException.BadRequest("truncated protobuf body");
                    yield return new Field(number, 0, data.Slice(pos, length));
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
