using System.Buffers;

namespace FastReid.Distributed;

/// <summary>
/// A FIFO of bytes in pooled blocks: what a ring link has received but the current step has not consumed.
/// A neighbour may run up to one ring round ahead, so this holds at most about one bucket.
/// </summary>
internal sealed class ByteQueue : IDisposable
{
    private const int BlockBytes = 1 << 20;
    private readonly Queue<byte[]> _blocks = new();
    private int _head;      // read position in the first block
    private int _tailFill;  // bytes written into the last block
    private byte[]? _tail;  // the last block (a Queue has no O(1) Last())

    public long Count { get; private set; }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_blocks.Count == 0 || _tailFill == BlockBytes)
            {
                _tail = ArrayPool<byte>.Shared.Rent(BlockBytes);
                _blocks.Enqueue(_tail);
                _tailFill = 0;
            }
            var tail = _tail!;
            var n = Math.Min(bytes.Length, BlockBytes - _tailFill);
            bytes[..n].CopyTo(tail.AsSpan(_tailFill));
            _tailFill += n;
            Count += n;
            bytes = bytes[n..];
        }
    }

    /// <summary>Moves exactly <c>destination.Length</c> bytes out; the caller checks <see cref="Count"/> first.</summary>
    public void Take(Span<byte> destination)
    {
        if (destination.Length > Count) throw new InvalidOperationException("not enough bytes queued");
        while (!destination.IsEmpty)
        {
            var block = _blocks.Peek();
            var end = _blocks.Count == 1 ? _tailFill : BlockBytes;
            var n = Math.Min(destination.Length, end - _head);
            block.AsSpan(_head, n).CopyTo(destination);
            _head += n;
            Count -= n;
            destination = destination[n..];
            if (_head == end)
            {
                ArrayPool<byte>.Shared.Return(_blocks.Dequeue());
                _head = 0;
                if (_blocks.Count == 0)
                {
                    _tailFill = 0;
                    _tail = null;
                }
            }
        }
    }

    public void Dispose()
    {
        while (_blocks.Count > 0) ArrayPool<byte>.Shared.Return(_blocks.Dequeue());
        _tail = null;
        Count = 0;
    }
}
