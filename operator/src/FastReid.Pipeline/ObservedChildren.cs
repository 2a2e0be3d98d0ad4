using System.Collections.Immutable;

namespace FastReid.Pipeline;

/// <summary>
/// The children of one resource as the operator found them (owned by it, in its namespace; pods by its
/// label, since a Job owns them), by type: <c>Of&lt;V1Job&gt;()</c>, <c>Of&lt;ReidExperiment&gt;()</c>; and the time.
/// A type nobody filled reads as none.
/// </summary>
public sealed record ObservedChildren(DateTimeOffset Now)
{
    private ImmutableDictionary<Type, object> Children { get; init; } = ImmutableDictionary<Type, object>.Empty;

    public IReadOnlyList<T> Of<T>() => Children.TryGetValue(typeof(T), out var list) ? (IReadOnlyList<T>)list : [];

    /// <summary>A copy where the children of type <typeparamref name="T"/> are <paramref name="children"/>.</summary>
    public ObservedChildren With<T>(IEnumerable<T> children) =>
        this with { Children = Children.SetItem(typeof(T), (IReadOnlyList<T>)[.. children]) };

    /// <summary>As <see cref="With{T}"/>, for a type known only at run time (the children's lists stay typed).</summary>
    public ObservedChildren With(Type type, IEnumerable<object> children)
    {
        var items = children.ToList();
        var typed = Array.CreateInstance(type, items.Count); // T[] is the IReadOnlyList<T> that Of<T> reads
        for (int i = 0; i < items.Count; i++) typed.SetValue(items[i], i);
        return this with { Children = Children.SetItem(type, typed) };
    }

    public static ObservedChildren None(DateTimeOffset now) => new(now);
}

/// <summary>A resource of one of our kinds that a planner reads besides its own (an export's source experiment).</summary>
public sealed record ResourceRef(Api.V1Alpha1.KindDescriptor Kind, string Name);

/// <summary>What a planner is given besides the resource and its children: the operator's defaults and the referenced resources.</summary>
public sealed class PlanContext(PlannerOptions options, IReadOnlyDictionary<ResourceRef, object>? referenced = null)
{
    public PlannerOptions Options => options;

    /// <summary>The referenced resource of that kind and name, or null when it does not exist.</summary>
    public T? Referenced<T>(string name) where T : class =>
        referenced is not null && referenced.TryGetValue(new ResourceRef(Api.V1Alpha1.ResourceKinds.Of<T>(), name), out var found) ? found as T : null;
}
