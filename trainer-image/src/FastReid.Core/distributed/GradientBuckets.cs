using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FastReid.Distributed;

/// <summary>
/// Data-parallel gradient averaging, DDP style, after backward: the trainable parameters' gradients are
/// reduced in buckets of about <see cref="DefaultBucketBytes"/> (one collective call each, in parameter order,
/// so every rank makes the same calls), averaged over the ranks, and written back.
/// <para>
/// TorchSharp has no <c>Tensor.register_hook</c>, so the reduction cannot start while backward still runs
/// (PyTorch's DDP overlaps the two); it follows backward.
/// </para>
/// <para>
/// A parameter whose gradient is undefined on some rank (not used by that rank's loss) counts as a zero
/// gradient there, as DDP's <c>find_unused_parameters</c> does; one undefined on every rank stays undefined,
/// so the optimizer skips it as it would in one process. Which is which travels in-band, in the last
/// bucket, together with the step's loss values (averaged for the log: the loss of the global batch), so the
/// ranks never disagree on the shape of a call.
/// </para>
/// </summary>
public sealed class GradientBuckets
{
    public const long DefaultBucketBytes = 25L << 20;

    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly ICollectives _group;
    private readonly List<(int Start, int End)> _buckets = [];

    public GradientBuckets(IReadOnlyList<Parameter> parameters, ICollectives group, long bucketBytes = DefaultBucketBytes)
    {
        _parameters = parameters;
        _group = group;
        long bytes = 0;
        int start = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            bytes += parameters[i].numel() * 4;
            if (bytes >= bucketBytes || i == parameters.Count - 1)
            {
                _buckets.Add((start, i + 1));
                (start, bytes) = (i + 1, 0);
            }
        }
    }

    public int BucketCount => _buckets.Count;

    /// <summary>Averages the gradients over the ranks in place; returns <paramref name="scalars"/> averaged the same way.</summary>
    public double[] AllReduceMean(IReadOnlyList<double> scalars)
    {
        if (_group.WorldSize == 1) return scalars.ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var onDevice = _group.TensorDevice;
        // header: one presence flag per parameter, then the scalars; it rides with the last bucket
        var header = new float[_parameters.Count + scalars.Count];
        for (int i = 0; i < _parameters.Count; i++) header[i] = _parameters[i].grad is null ? 0f : 1f;
        for (int i = 0; i < scalars.Count; i++) header[_parameters.Count + i] = (float)scalars[i];
        Tensor? headerTensor = null;
        var absent = new List<(int Index, Tensor Reduced)>();
        for (int b = 0; b < _buckets.Count; b++)
        {
            var (start, end) = _buckets[b];
            var grads = new List<Tensor>(end - start);
            for (int i = start; i < end; i++)
            {
                var p = _parameters[i];
                grads.Add(p.grad is { } g ? g.contiguous() : zeros_like(p));
            }
            var flat = cat(grads.Select(g => g.flatten()).ToList());
            var wire = flat.device.type == onDevice ? flat : flat.to(DistributedState.WireDevice(_group));
            bool last = b == _buckets.Count - 1;
            if (last) headerTensor = tensor(header).to(wire.device);
            if (wire.dtype != ScalarType.Float32) throw new FastReidException($"data-parallel training reduces float32 gradients; got {wire.dtype}");
            _group.AllReduce(last ? [wire, headerTensor!] : [wire], ReduceOp.Mean);
            if (!ReferenceEquals(wire, flat)) flat.copy_(wire);
            if (last) header = headerTensor!.cpu().data<float>().ToArray();
            long offset = 0;
            for (int i = start; i < end; i++)
            {
                var p = _parameters[i];
                long n = p.numel();
                var reduced = flat.narrow(0, offset, n).view(p.shape);
                offset += n;
                if (p.grad is { } g) g.copy_(reduced);
                else absent.Add((i, reduced));
            }
        }
        // parameters without a local gradient: defined again when some rank had one, else left undefined
        foreach (var (index, reduced) in absent)
            if (header[index] > 0) _parameters[index].grad = reduced.clone().MoveToOuterDisposeScope();
        return Enumerable.Range(0, scalars.Count).Select(i => (double)header[_parameters.Count + i]).ToArray();
    }
}
