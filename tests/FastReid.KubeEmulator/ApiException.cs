using System.Text.Json.Nodes;

namespace FastReid.KubeEmulator;

/// <summary>An error the API answers with a Kubernetes <c>Status</c> object (kind Status, apiVersion v1).</summary>
internal sealed class ApiException(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public JsonObject? Details { get; } = details;

    public JsonObject ToStatus() => StatusObject(Code, Reason, Message, Details);

    public static JsonObject StatusObject(int code, string reason, string message, JsonObject? details = null)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
        };
        if (details is not null) status["details"] = details.DeepClone();
        status["code"] = code;
        return status;
    }

    static JsonObject Describe(string? group, string resource, string? name)
    {
        var d = new JsonObject();
        if (name is not null) d["name"] = name;
        if (!string.IsNullOrEmpty(group)) d["group"] = group;
        d["kind"] = resource;
        return d;
    }

    static string Qualified(string? group, string resource) => string.IsNullOrEmpty(group) ? resource : $"{resource}.{group}";

    public static ApiException NotFound(string? group, string resource, string name) =>
        new(404, "NotFound", $"{Qualified(group, resource)} \"{name}\" not found", Describe(group, resource, name));

    public static ApiException NotFoundPath(string message) => new(404, "NotFound", message);

    public static ApiException AlreadyExists(string? group, string resource, string name) =>
        new(409, "AlreadyExists", $"{Qualified(group, resource)} \"{name}\" already exists", Describe(group, resource, name));

    public static ApiException Conflict(string? group, string resource, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(group, resource)} \"{name}\": {why}", Describe(group, resource, name));

    public static ApiException StaleConflict(string? group, string resource, string name) =>
        Conflict(group, resource, name, "the object has been modified; please apply your changes to the latest version and try again");

    public static ApiException Invalid(string? group, string kind, string name, IReadOnlyList<FieldError> errors)
    {
        var causes = new JsonArray();
        foreach (var e in errors)
            causes.Add(new JsonObject { ["reason"] = e.Reason, ["message"] = e.Message, ["field"] = e.Field });
        var details = new JsonObject { ["name"] = name };
        if (!string.IsNullOrEmpty(group)) details["group"] = group;
        details["kind"] = kind;
        details["causes"] = causes;
        var summary = errors.Count == 1 ? errors[0].ToString() : "[" + string.Join(", ", errors) + "]";
        var qualifiedKind = string.IsNullOrEmpty(group) ? kind : kind + "." + group;
        return new(422, "Invalid", $"{qualifiedKind} \"{name}\" is invalid: {summary}", details);
    }

    /// <summary>A ValidatingAdmissionPolicy's denial: Forbidden's message, with reason Invalid and code 422 (its default reason).</summary>
    public static ApiException PolicyDenied(string? group, string resource, string name, string why)
    {
        var details = Describe(group, resource, name);
        details["causes"] = new JsonArray(new JsonObject { ["message"] = why });
        return new(422, "Invalid", $"{Qualified(group, resource)} \"{name}\" is forbidden: {why}", details);
    }

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);
    public static ApiException MethodNotAllowed(string message) => new(405, "MethodNotAllowed", message);
    public static ApiException UnsupportedMediaType(string type) => new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json; got {type}");
    public static ApiException Forbidden(string? group, string resource, string name, string why) =>
        new(403, "Forbidden", $"{Qualified(group, resource)} \"{name}\" is forbidden: {why}", Describe(group, resource, name));
    public static ApiException Expired(string message) => new(410, "Expired", message);
    public static ApiException Gone(string message) => new(410, "Gone", message);
}

/// <summary>One field-level validation failure, phrased as apimachinery's field.Error prints it.</summary>
internal sealed record FieldError(string Field, string Reason, string Detail)
{
    public string Message => Detail;

    public static FieldError Required(string field, string detail = "") =>
        new(field, "FieldValueRequired", "Required value" + (detail.Length > 0 ? ": " + detail : ""));

    public static FieldError InvalidValue(string field, object? value, string detail) =>
        new(field, "FieldValueInvalid", $"Invalid value: {Render(value)}: {detail}");

    public static FieldError Unsupported(string field, object? value, IEnumerable<string> allowed) =>
        new(field, "FieldValueNotSupported", $"Unsupported value: {Render(value)}: supported values: {string.Join(", ", allowed.Select(a => "\"" + a + "\""))}");

    public static FieldError Forbidden(string field, string detail) => new(field, "FieldValueForbidden", "Forbidden: " + detail);

    public static FieldError Immutable(string field) => new(field, "FieldValueInvalid", "Invalid value: field is immutable");

    public static FieldError TypeInvalid(string field, object? value, string detail) =>
        new(field, "FieldValueTypeInvalid", $"Invalid value: {Render(value)}: {detail}");

    public static FieldError UnknownField(string field) => new(field, "FieldValueInvalid", $"unknown field \"{field}\"");

    static string Render(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        JsonNode n => n.ToJsonString(),
        _ => value.ToString() ?? "null",
    };

    public override string ToString() => $"{Field}: {Detail}";
}
