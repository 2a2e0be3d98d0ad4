namespace FastReid.Modeling;

/// <summary>
/// FastReID's <c>Registry</c>: the components a config key chooses by name (<c>META_ARCH_REGISTRY.get(name)(cfg)</c>).
/// Filled once when it is built and read-only afterwards, so no code path can change what a name means.
/// Registration order is kept because some callers depend on it (loss terms are summed in that order).
/// Names FastReID has that we do not implement yet get their own message instead of "unknown".
/// </summary>
public sealed class Registry<T>
{
    private readonly IReadOnlyList<(string Name, T Item)> _items;
    private readonly IReadOnlyDictionary<string, string> _notYet;

    /// <summary>The config key whose value names a component here (used in error messages).</summary>
    public string Key { get; }

    public Registry(string key, IReadOnlyList<(string Name, T Item)> items, IReadOnlyDictionary<string, string>? notSupportedYet = null)
    {
        if (items.Select(i => i.Name).Distinct(StringComparer.Ordinal).Count() != items.Count)
            throw new ArgumentException($"{key}: a name is registered twice", nameof(items));
        Key = key;
        _items = items;
        _notYet = notSupportedYet ?? new Dictionary<string, string>();
    }

    /// <summary>The registered names, in registration order.</summary>
    public IReadOnlyList<string> Names => _items.Select(i => i.Name).ToList();

    public bool Contains(string name) => _items.Any(i => i.Name == name);

    /// <summary>The component registered as <paramref name="name"/>; a user-facing error naming the key and the known names otherwise.</summary>
    public T Get(string name)
    {
        foreach (var (n, item) in _items)
            if (n == name) return item;
        if (_notYet.TryGetValue(name, out var message)) throw new FastReidException($"{Key}: {message}");
        throw new FastReidException($"{Key}: unknown name '{name}' (known: {string.Join(", ", Names)})");
    }
}
