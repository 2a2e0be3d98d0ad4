using System.Text;
using System.Text.RegularExpressions;

namespace FastReid;

/// <summary>
/// The one place credentials are taken out of text before it is printed, logged, or written to a file, a
/// status or an Event. Three kinds are masked with <see cref="Mask"/>:
/// <list type="bullet">
/// <item>the user information of any URL (<c>https://user:password@host</c> becomes <c>https://***@host</c>);</item>
/// <item>signature and credential query parameters of presigned URLs (<c>X-Amz-Signature</c>, <c>X-Amz-Credential</c>,
/// <c>X-Amz-Security-Token</c>, <c>Signature</c>, <c>AWSAccessKeyId</c>, <c>sig</c>, <c>token</c>, <c>password</c>);</item>
/// <item>the values of secret-holding variables (see <see cref="IsSecretVariable"/>) wherever they appear, and
/// <c>NAME=value</c> for such names.</item>
/// </list>
/// Pure: the secret values are given (<see cref="ForVariables"/> picks them from an environment).
/// </summary>
public sealed partial class Redactor
{
    public const string Mask = "***";

    /// <summary>Values shorter than this are not searched for: masking "1" everywhere would hide nothing and ruin every line.</summary>
    private const int MinSecretLength = 4;

    private readonly string[] _secrets;

    public Redactor(IEnumerable<string?> secretValues)
    {
        // longest first, so a secret that contains another is masked whole
        _secrets = secretValues.Where(s => s is { Length: >= MinSecretLength }).Select(s => s!)
            .Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length).ToArray();
    }

    /// <summary>Masks URL credentials and presigned-URL parameters only (no known secret values).</summary>
    public static Redactor Patterns { get; } = new([]);

    /// <summary>A redactor for the secret values among <paramref name="variables"/> (e.g. the process environment).</summary>
    public static Redactor ForVariables(IEnumerable<KeyValuePair<string, string?>> variables) =>
        new(variables.Where(v => IsSecretVariable(v.Key)).SelectMany(v => SecretParts(v.Value)));

    /// <summary>A redactor for this process's environment, as the trainer and the operator print through.</summary>
    public static Redactor ForProcess() =>
        ForVariables(Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => new KeyValuePair<string, string?>((string)e.Key, e.Value as string)));

    /// <summary>
    /// True for variables that hold credentials: AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, and any name with
    /// SECRET, PASSWORD, TOKEN or CREDENTIAL in it; also AWS_ENDPOINT_URL, whose user information is a credential.
    /// </summary>
    public static bool IsSecretVariable(string name) =>
        name is "AWS_ENDPOINT_URL" || SecretNamePattern().IsMatch(name);

    /// <summary>The secret part of a variable's value: the user information of a URL, or the whole value.</summary>
    private static IEnumerable<string> SecretParts(string? value)
    {
        if (string.IsNullOrEmpty(value)) yield break;
        if (Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            if (uri.UserInfo.Length == 0) yield break; // an endpoint without credentials is not a secret
            foreach (var part in uri.UserInfo.Split(':')) yield return part;
            foreach (var part in uri.UserInfo.Split(':')) yield return Uri.UnescapeDataString(part);
            yield break;
        }
        yield return value;
    }

    public string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var result = UserInfoPattern().Replace(text, m => m.Groups["scheme"].Value + Mask + "@");
        result = QueryCredentialPattern().Replace(result, m => m.Groups["key"].Value + Mask);
        result = SecretAssignmentPattern().Replace(result, m => m.Groups["key"].Value + Mask);
        if (_secrets.Length == 0) return result;
        var builder = new StringBuilder(result);
        foreach (var secret in _secrets) builder.Replace(secret, Mask);
        return builder.ToString();
    }

    [GeneratedRegex(@"(?<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@'""<>?#]+@")]
    private static partial Regex UserInfoPattern();

    [GeneratedRegex(@"(?<key>[?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId|sig|token|access_token|password|secret)=)[^&\s'""#<>]+",
        RegexOptions.IgnoreCase)]
    private static partial Regex QueryCredentialPattern();

    [GeneratedRegex(@"(?<key>\b[A-Z][A-Z0-9_]*(?:SECRET|PASSWORD|TOKEN|CREDENTIAL)[A-Z0-9_]*=)[^\s'"",;]+")]
    private static partial Regex SecretAssignmentPattern();

    [GeneratedRegex(@"SECRET|PASSWORD|TOKEN|CREDENTIAL", RegexOptions.IgnoreCase)]
    private static partial Regex SecretNamePattern();
}

/// <summary>
/// A writer that passes whole lines through a <see cref="Redactor"/> before they reach <paramref name="inner"/>:
/// the console, a log file. A partial line is held until its end or a <see cref="Flush"/>.
/// </summary>
public sealed class RedactingWriter(TextWriter inner, Redactor redactor) : TextWriter
{
    private readonly StringBuilder _line = new();
    private readonly Lock _gate = new();

    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        lock (_gate)
        {
            _line.Append(value);
            if (value == '\n') Emit();
        }
    }

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        lock (_gate)
        {
            _line.Append(value);
            if (value.Contains('\n', StringComparison.Ordinal)) Emit();
        }
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value) => Write((value ?? "") + NewLine);

    public override void Flush()
    {
        lock (_gate)
        {
            Emit();
            inner.Flush();
        }
    }

    private void Emit()
    {
        if (_line.Length == 0) return;
        inner.Write(redactor.Redact(_line.ToString()));
        _line.Clear();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
