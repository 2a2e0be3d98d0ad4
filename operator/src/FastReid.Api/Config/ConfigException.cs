namespace FastReid.Config;

/// <summary>A config problem tied to one key (or file), e.g. an unknown key or a value of the wrong type.</summary>
public sealed class ConfigException(string message, string? key = null) : FastReidException(message)
{
    public string? Key { get; } = key;
}
