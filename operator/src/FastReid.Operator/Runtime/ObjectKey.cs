namespace FastReid.Operator.Runtime;

/// <summary>namespace/name of a namespaced object: what the work queue holds and a reconcile reads.</summary>
public readonly record struct ObjectKey(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>What a reconcile asks of the loop afterwards.</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => new(null);
    public static ReconcileResult After(TimeSpan delay) => new(delay);
}
