using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Patching;

/// <summary>RFC 6902 JSON patch (add, remove, replace, move, copy, test) with RFC 6901 pointers.</summary>
internal static class JsonPatch
{
    public static JsonObject Apply(JsonObject target, JsonNode? patch)
    {
        if (patch is not JsonArray ops) throw ApiException.BadRequest("json patch must be a JSON array of operations");
        JsonNode root = target.DeepClone();
        foreach (var raw in ops)
        {
            if (raw is not JsonObject op) throw ApiException.BadRequest("json patch operation must be an object");
            var kind = op["op"]?.GetValue<string>() ?? throw Unprocessable("missing op");
            var path = op["path"]?.GetValue<string>() ?? throw Unprocessable($"missing path in {kind} operation");
            switch (kind)
            {
                case "add": root = Add(root, path, Value(op)); break;
                case "remove": Remove(root, path); break;
                case "replace": Remove(root, path); root = Add(root, path, Value(op)); break;
                case "move":
                {
                    var from = op["from"]?.GetValue<string>() ?? throw Unprocessable("missing from in move operation");
                    var moved = Get(root, from).DeepClone();
                    Remove(root, from);
                    root = Add(root, path, moved);
                    break;
                }
                case "copy":
                {
                    var from = op["from"]?.GetValue<string>() ?? throw Unprocessable("missing from in copy operation");
                    root = Add(root, path, Get(root, from).DeepClone());
                    break;
                }
                case "test":
                    if (!JsonNode.DeepEquals(Get(root, path), Value(op)))
                        throw Unprocessable($"testing value {path} failed");
                    break;
                default: throw Unprocessable($"Unexpected kind: {kind}");
            }
        }
        return root as JsonObject ?? throw Unprocessable("json patch replaced the whole object with a non-object");
    }

    static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var v) ? v?.DeepClone() : throw Unprocessable($"missing value in {op["op"]} operation");

    static ApiException Unprocessable(string message) => new(422, "Invalid", $"the server rejected our request due to an error in our request: {message}");

    static List<string> Tokens(string pointer)
    {
        if (pointer.Length == 0) return [];
        if (pointer[0] != '/') throw Unprocessable($"invalid JSON pointer {pointer}");
        return pointer[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToList();
    }

    static JsonNode Get(JsonNode root, string pointer)
    {
        JsonNode? node = root;
        foreach (var token in Tokens(pointer))
        {
            node = node switch
            {
                JsonObject o when o.TryGetPropertyValue(token, out var child) => child,
                JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw Unprocessable($"doc is missing path: \"{pointer}\""),
            };
            if (node is null) throw Unprocessable($"doc is missing path: \"{pointer}\"");
        }
        return node!;
    }

    static (JsonNode Parent, string Last) Parent(JsonNode root, string pointer)
    {
        var tokens = Tokens(pointer);
        if (tokens.Count == 0) throw Unprocessable("cannot address the document root here");
        var parentPointer = pointer[..pointer.LastIndexOf('/')];
        return (Get(root, parentPointer), tokens[^1]);
    }

    static JsonNode Add(JsonNode root, string pointer, JsonNode? value)
    {
        if (pointer.Length == 0) return value ?? throw Unprocessable("cannot replace the document with null");
        var (parent, last) = Parent(root, pointer);
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count: a.Insert(i, value); break;
            default: throw Unprocessable($"add operation does not apply: doc is missing path: \"{pointer}\"");
        }
        return root;
    }

    static void Remove(JsonNode root, string pointer)
    {
        var (parent, last) = Parent(root, pointer);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last): o.Remove(last); break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i < a.Count: a.RemoveAt(i); break;
            default: throw Unprocessable($"remove operation does not apply: doc is missing path: \"{pointer}\"");
        }
    }
}
