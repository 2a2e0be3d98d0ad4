using System.Text.Json.Nodes;
using FastReid.KubeEmulator.Storage;

namespace FastReid.KubeEmulator;

/// <summary>
/// A cluster's own admission rules for tests (ValidatingAdmissionPolicy: "images come from our registry", "every
/// Job has a team label"), which a controller cannot know before it asks. A policy looks at every create and
/// update of its resource (status writes excepted), from clients and the emulator's controllers alike, after the
/// built-in validation; a denial is answered as the apiserver answers one whose validation has no reason: 422
/// Invalid, <c>jobs.batch "x" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'p-binding' denied
/// request: MESSAGE</c>. Thread-safe.
/// </summary>
public sealed class AdmissionPolicies
{
    readonly Lock _gate = new();
    readonly List<Policy> _policies = [];
    readonly Dictionary<string, int> _evaluations = [];

    sealed record Policy(string Name, string Resource, Func<JsonObject, string?> Check);

    /// <summary>
    /// Adds policy <paramref name="name"/> on <paramref name="resource"/> (a plural: <c>jobs</c>, <c>pods</c>,
    /// <c>reidexperiments</c>): <paramref name="check"/> gets the object as it would be stored and returns the
    /// denial's message, or null to admit it.
    /// </summary>
    public void Deny(string name, string resource, Func<JsonObject, string?> check)
    {
        lock (_gate) _policies.Add(new Policy(name, resource, check));
    }

    /// <summary>How many writes policy <paramref name="name"/> has looked at (admitted or denied).</summary>
    public int Evaluations(string name)
    {
        lock (_gate) return _evaluations.GetValueOrDefault(name);
    }

    /// <summary>Removes every policy (the evaluation counts stay).</summary>
    public void Clear()
    {
        lock (_gate) _policies.Clear();
    }

    internal void Admit(ResourceType type, JsonObject obj)
    {
        List<Policy> matching;
        lock (_gate)
        {
            matching = _policies.Where(p => p.Resource == type.Plural).ToList();
            foreach (var p in matching) _evaluations[p.Name] = _evaluations.GetValueOrDefault(p.Name) + 1;
        }
        foreach (var policy in matching)
            if (policy.Check(obj) is { } message)
                throw ApiException.PolicyDenied(type.Group, type.Plural, Meta.Name(obj), $"ValidatingAdmissionPolicy '{policy.Name}' with binding '{policy.Name}-binding' denied request: {message}");
    }
}
