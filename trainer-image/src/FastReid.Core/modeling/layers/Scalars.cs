using TorchSharp;

namespace FastReid.Modeling.Layers;

/// <summary>
/// Scalars that live as long as the process. TorchSharp 0.107 turns numbers into <see cref="Scalar"/> objects
/// implicitly (the alpha of every tensor <c>+</c> and <c>-</c>, a clamp bound, an exponent) and passes only their
/// handle to libtorch, so nothing keeps the object alive during the native call: a GC there lets the finalizer
/// free the Scalar while libtorch reads it (seen as "toDouble at Scalar.h:140" errors and a segfault, under load).
/// A Scalar a static or a module field holds is never finalized while it is in use; model forwards use these.
/// </summary>
internal static class Scalars
{
    /// <summary>The alpha of a plain tensor sum or difference.</summary>
    public static readonly Scalar One = 1.ToScalar();
}
