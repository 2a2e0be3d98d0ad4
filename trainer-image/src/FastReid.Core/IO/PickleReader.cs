using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace FastReid.IO;

/// <summary>A class or function a pickle names (<c>GLOBAL module name</c>); never imported or run.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>
/// A Python object of a class the reader does not interpret: the callable that built it, its arguments, the state
/// a BUILD gave it, and the items and elements pickled into it (a <c>Counter</c>, a <c>defaultdict</c>, an
/// optimizer's or scheduler's own types). Kept so that a file holding it still reads.
/// </summary>
public sealed class PyObject(PyGlobal type, object?[] args)
{
    public PyGlobal Type { get; } = type;
    public object?[] Args { get; } = args;
    public object? State { get; set; }
    public Dictionary<object, object?> Items { get; } = [];
    public List<object?> Elements { get; } = [];
}

/// <summary>
/// A pickle (protocols 0 to 5) read into plain values, without running anything: <c>None</c> is null, ints are
/// <see cref="long"/> (or <see cref="BigInteger"/>), floats <see cref="double"/>, str <see cref="string"/>, bytes
/// <c>byte[]</c>, lists <see cref="List{T}"/>, tuples <c>object?[]</c>, dicts (and <c>OrderedDict</c>)
/// <see cref="Dictionary{TKey,TValue}"/> in insertion order. A call of a global goes to <c>reduce</c>, which may
/// interpret it (a tensor rebuild); what it returns null for becomes a <see cref="PyObject"/>. Persistent ids
/// (torch's storages) go to <c>persistentLoad</c>. The reader consumes exactly one pickle from the stream, up to
/// its STOP, so several pickles and raw data can follow each other (torch's legacy format).
/// </summary>
public sealed class PickleReader(Stream stream, Func<object?, object?> persistentLoad, Func<PyGlobal, object?[], object?> reduce)
{
    private static readonly object Mark = new();
    private readonly BinaryReader _in = new(stream, Encoding.UTF8, leaveOpen: true);
    private readonly List<object?> _stack = [];
    private readonly Dictionary<long, object?> _memo = [];

    public object? Load()
    {
        _stack.Clear();
        _memo.Clear();
        while (true)
        {
            byte op = _in.ReadByte();
            switch (op)
            {
                case 0x80: if (_in.ReadByte() > 5) throw new FormatException("pickle protocol above 5"); break; // PROTO
                case 0x95: _in.ReadInt64(); break; // FRAME: frames are only a read-ahead hint
                case (byte)'.': return Pop(); // STOP
                case (byte)'(': Push(Mark); break;
                case (byte)'0': Pop(); break;
                case (byte)'1': PopMark(); break;
                case (byte)'2': Push(Peek()); break;
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'I': Push(ParseInt(Line())); break;
                case (byte)'J': Push((long)_in.ReadInt32()); break;
                case (byte)'K': Push((long)_in.ReadByte()); break;
                case (byte)'M': Push((long)_in.ReadUInt16()); break;
                case (byte)'L': Push(ParseLong(Line().TrimEnd('L'))); break;
                case 0x8a: Push(Long(_in.ReadBytes(_in.ReadByte()))); break;
                case 0x8b: Push(Long(_in.ReadBytes(_in.ReadInt32()))); break;
                case (byte)'F': Push(double.Parse(Line(), CultureInfo.InvariantCulture)); break;
                case (byte)'G': Push(BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64BigEndian(_in.ReadBytes(8)))); break;
                case (byte)'S': Push(Unquote(Line())); break;
                case (byte)'T': Push(Latin1(_in.ReadBytes(_in.ReadInt32()))); break;
                case (byte)'U': Push(Latin1(_in.ReadBytes(_in.ReadByte()))); break;
                case (byte)'V': Push(Line()); break;
                case (byte)'X': Push(Encoding.UTF8.GetString(_in.ReadBytes(_in.ReadInt32()))); break;
                case 0x8c: Push(Encoding.UTF8.GetString(_in.ReadBytes(_in.ReadByte()))); break;
                case 0x8d: Push(Encoding.UTF8.GetString(_in.ReadBytes(checked((int)_in.ReadInt64())))); break;
                case (byte)'B': Push(_in.ReadBytes(_in.ReadInt32())); break;
                case (byte)'C': Push(_in.ReadBytes(_in.ReadByte())); break;
                case 0x8e or 0x96: Push(_in.ReadBytes(checked((int)_in.ReadInt64()))); break;
                case 0x98: break; // READONLY_BUFFER
                case (byte)')': Push(Array.Empty<object?>()); break;
                case (byte)'t': Push(PopMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)']': Push(new List<object?>()); break;
                case (byte)'l': Push(PopMark()); break;
                case (byte)'a': { var v = Pop(); Append(Peek(), [v]); break; }
                case (byte)'e': { var items = PopMark(); Append(Peek(), items); break; }
                case (byte)'}': Push(new Dictionary<object, object?>()); break;
                case (byte)'d': { var d = new Dictionary<object, object?>(); SetItems(d, PopMark()); Push(d); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Peek(), [k, v]); break; }
                case (byte)'u': { var items = PopMark(); SetItems(Peek(), items); break; }
                case 0x8f: Push(new List<object?>()); break; // EMPTY_SET: a set is read as its elements
                case 0x90: { var items = PopMark(); Append(Peek(), items); break; }
                case 0x91: Push(PopMark()); break; // FROZENSET
                case (byte)'g': Push(_memo[ParseLongText(Line())]); break;
                case (byte)'h': Push(_memo[_in.ReadByte()]); break;
                case (byte)'j': Push(_memo[_in.ReadUInt32()]); break;
                case (byte)'p': _memo[ParseLongText(Line())] = Peek(); break;
                case (byte)'q': _memo[_in.ReadByte()] = Peek(); break;
                case (byte)'r': _memo[_in.ReadUInt32()] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'c': Push(new PyGlobal(Line(), Line())); break;
                case 0x93: { var name = (string)Pop()!; var module = (string)Pop()!; Push(new PyGlobal(module, name)); break; }
                case (byte)'R' or 0x81: { var args = (object?[])Pop()!; Push(Call(Pop(), args)); break; } // REDUCE, NEWOBJ
                case 0x92: { Pop(); var args = (object?[])Pop()!; Push(Call(Pop(), args)); break; } // NEWOBJ_EX (kwargs dropped)
                case (byte)'o': { var items = PopMark(); Push(Call(items[0], items.Skip(1).ToArray())); break; } // OBJ
                case (byte)'i': { var type = new PyGlobal(Line(), Line()); Push(Call(type, PopMark().ToArray())); break; } // INST
                case (byte)'b': { var state = Pop(); if (Peek() is PyObject o) o.State = state; break; } // BUILD: a dict's state (OrderedDict's _metadata) is not needed
                case (byte)'P': Push(persistentLoad(Line())); break;
                case (byte)'Q': Push(persistentLoad(Pop())); break;
                default: throw new FormatException($"pickle opcode 0x{op:x2} is not supported");
            }
        }
    }

    private object? Call(object? callable, object?[] args)
    {
        if (callable is not PyGlobal type) throw new FormatException("pickle calls something that is not a class or function");
        if (type.FullName is "collections.OrderedDict" or "builtins.dict" or "__builtin__.dict")
        {
            var d = new Dictionary<object, object?>();
            if (args.Length == 1 && args[0] is List<object?> pairs)
                foreach (var pair in pairs.OfType<object?[]>()) d[pair[0]!] = pair[1];
            return d;
        }
        return reduce(type, args) ?? new PyObject(type, args);
    }

    private static void Append(object? target, List<object?> items)
    {
        switch (target)
        {
            case List<object?> list: list.AddRange(items); break;
            case PyObject o: o.Elements.AddRange(items); break;
            default: throw new FormatException("pickle appends to something that is not a list");
        }
    }

    private static void SetItems(object? target, List<object?> keysAndValues)
    {
        var dict = target switch
        {
            Dictionary<object, object?> d => d,
            PyObject o => o.Items,
            _ => throw new FormatException("pickle sets items of something that is not a dict"),
        };
        for (int i = 0; i + 1 < keysAndValues.Count; i += 2) dict[keysAndValues[i] ?? "None"] = keysAndValues[i + 1];
    }

    private void Push(object? o) => _stack.Add(o);

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw new FormatException("pickle stack underflow");

    private object? Pop()
    {
        var o = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private List<object?> PopMark()
    {
        int at = _stack.LastIndexOf(Mark);
        if (at < 0) throw new FormatException("pickle has no MARK to pop to");
        var items = _stack.GetRange(at + 1, _stack.Count - at - 1);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    private string Line()
    {
        var bytes = new List<byte>();
        for (byte b; (b = _in.ReadByte()) != (byte)'\n';) bytes.Add(b);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static object ParseInt(string text) => text switch
    {
        "00" => false,
        "01" => true,
        _ => ParseLong(text),
    };

    private static object ParseLong(string text)
    {
        var big = BigInteger.Parse(text, CultureInfo.InvariantCulture);
        return big >= long.MinValue && big <= long.MaxValue ? (long)big : big;
    }

    private static long ParseLongText(string text) => long.Parse(text, CultureInfo.InvariantCulture);

    private static object Long(byte[] littleEndianTwosComplement)
    {
        var big = new BigInteger(littleEndianTwosComplement, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (long)big : big;
    }

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    private static string Unquote(string text) =>
        text.Length >= 2 && (text[0] is '\'' or '"') && text[^1] == text[0] ? text[1..^1] : throw new FormatException("malformed pickle string");
}
