using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator.Http;

/// <summary>
/// Writes an OpenAPI v2 document as the protobuf kubectl asks for (<c>Accept:
/// application/com.github.proto-openapi.spec.v2@v1.0+protobuf</c>) and decodes with gnostic's
/// <c>openapi_v2.Document</c>; kubectl has no JSON fallback for this request. Field numbers are those of
/// gnostic's OpenAPIv2.proto. Only what the emulator publishes is encoded: swagger, info, definitions
/// and the schema keywords and <c>x-</c> extensions in them (extension values travel as YAML text, and
/// JSON is YAML). Paths are sent empty: kubectl reads operations from OpenAPI v3.
/// </summary>
internal static class OpenApiV2Protobuf
{
    public static byte[] Encode(JsonObject document)
    {
        var doc = new Message();
        doc.String(1, Text(document["swagger"]));
        if (document["info"] is JsonObject info)
            doc.Nested(2, new Message().String(1, Text(info["title"])).String(2, Text(info["version"])));
        doc.Nested(8, new Message());
        var definitions = new Message();
        foreach (var (name, schema) in document["definitions"] as JsonObject ?? [])
            definitions.Nested(1, NamedSchema(name, (JsonObject)schema!));
        doc.Nested(9, definitions);
        return doc.ToArray();
    }

    static Message NamedSchema(string name, JsonObject schema) => new Message().String(1, name).Nested(2, Schema(schema));

    static Message Schema(JsonObject s)
    {
        var m = new Message();
        foreach (var (key, value) in s)
            switch (key)
            {
                case "$ref": m.String(1, Text(value)); break;
                case "format": m.String(2, Text(value)); break;
                case "title": m.String(3, Text(value)); break;
                case "description": m.String(4, Text(value)); break;
                case "default": m.Nested(5, Any(value)); break;
                case "multipleOf": m.Double(6, value); break;
                case "maximum": m.Double(7, value); break;
                case "exclusiveMaximum": m.Bool(8, value); break;
                case "minimum": m.Double(9, value); break;
                case "exclusiveMinimum": m.Bool(10, value); break;
                case "maxLength": m.Varint(11, value); break;
                case "minLength": m.Varint(12, value); break;
                case "pattern": m.String(13, Text(value)); break;
                case "maxItems": m.Varint(14, value); break;
                case "minItems": m.Varint(15, value); break;
                case "uniqueItems": m.Bool(16, value); break;
                case "maxProperties": m.Varint(17, value); break;
                case "minProperties": m.Varint(18, value); break;
                case "required": foreach (var r in value as JsonArray ?? []) m.String(19, Text(r)); break;
                case "enum": foreach (var e in value as JsonArray ?? []) m.Nested(20, Any(e)); break;
                case "additionalProperties":
                    m.Nested(21, value is JsonObject ap ? new Message().Nested(1, Schema(ap)) : new Message().Bool(2, value));
                    break;
                case "type":
                    var types = new Message();
                    if (value is JsonArray several) foreach (var t in several) types.String(1, Text(t));
                    else types.String(1, Text(value));
                    m.Nested(22, types);
                    break;
                case "items":
                    var items = new Message();
                    if (value is JsonArray tuple) foreach (var i in tuple.OfType<JsonObject>()) items.Nested(1, Schema(i));
                    else items.Nested(1, Schema((JsonObject)value!));
                    m.Nested(23, items);
                    break;
                case "allOf": foreach (var x in (value as JsonArray ?? []).OfType<JsonObject>()) m.Nested(24, Schema(x)); break;
                case "properties":
                    // Present even when empty: kubectl tells an object that allows no fields from a free map by it.
                    var properties = new Message();
                    foreach (var (name, property) in (JsonObject)value!) properties.Nested(1, NamedSchema(name, (JsonObject)property!));
                    m.Nested(25, properties);
                    break;
                case "readOnly": m.Bool(27, value); break;
                case "example": m.Nested(30, Any(value)); break;
                case var x when x.StartsWith("x-", StringComparison.Ordinal):
                    m.Nested(31, new Message().String(1, key).Nested(2, Any(value)));
                    break;
            }
        return m;
    }

    /// <summary>gnostic's Any: the value as YAML text (field 2).</summary>
    static Message Any(JsonNode? value) => new Message().String(2, value?.ToJsonString() ?? "null");

    static string Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "";

    /// <summary>A protobuf message being written: fields in order, sub-messages length-delimited.</summary>
    sealed class Message
    {
        readonly MemoryStream _bytes = new();

        public byte[] ToArray() => _bytes.ToArray();

        public Message String(int field, string value)
        {
            if (value.Length == 0) return this;
            Bytes(field, Encoding.UTF8.GetBytes(value));
            return this;
        }

        public Message Nested(int field, Message value)
        {
            Bytes(field, value.ToArray());
            return this;
        }

        public Message Bool(int field, JsonNode? value)
        {
            if (value is not JsonValue v || !v.TryGetValue<bool>(out var b) || !b) return this;
            Tag(field, 0);
            WriteVarint(1);
            return this;
        }

        public Message Varint(int field, JsonNode? value)
        {
            if (Storage.Meta.Long(value) is not { } n || n == 0) return this;
            Tag(field, 0);
            WriteVarint((ulong)n);
            return this;
        }

        public Message Double(int field, JsonNode? value)
        {
            if (value is not JsonValue || !double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return this;
            Tag(field, 1);
            Span<byte> buffer = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(buffer, d);
            _bytes.Write(buffer);
            return this;
        }

        void Bytes(int field, byte[] payload)
        {
            Tag(field, 2);
            WriteVarint((ulong)payload.Length);
            _bytes.Write(payload);
        }

        void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

        void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.WriteByte((byte)value);
        }
    }
}
