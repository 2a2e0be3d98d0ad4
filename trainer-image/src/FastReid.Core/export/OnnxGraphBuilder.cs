using Google.Protobuf;
using Onnx;

namespace FastReid.Export;

/// <summary>
/// Accumulates ONNX nodes and float/int64 initializers with unique names, and wraps them in a
/// <see cref="ModelProto"/>. Knows nothing about ReID models; <see cref="BaselineOnnxWriter"/> drives it.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    // TensorProto.DataType values from onnx.proto
    private const int Float = 1;
    private const int Int64 = 7;

    private readonly GraphProto _graph = new() { Name = "fastreid" };
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    public string Fresh(string hint)
    {
        var name = hint;
        while (!_names.Add(name)) name = $"{hint}_{++_counter}";
        return name;
    }

    /// <summary>A float32 initializer (weights are rounded to float32 once, here).</summary>
    public string Constant(string hint, float[] values, params long[] dims)
    {
        if (values.Length != dims.Aggregate(1L, (a, b) => a * b))
            throw new InvalidOperationException($"initializer {hint}: {values.Length} values for shape [{string.Join(", ", dims)}]");
        var tensor = new TensorProto { Name = Fresh(hint), DataType = Float };
        tensor.Dims.AddRange(dims);
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian");
        tensor.RawData = ByteString.CopyFrom(bytes);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    public string Int64s(string hint, params long[] values)
    {
        var tensor = new TensorProto { Name = Fresh(hint), DataType = Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds one node with a single output and returns the output's name.</summary>
    public string Node(string opType, string hint, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeN(opType, hint, inputs, 1, attributes)[0];

    public string[] NodeN(string opType, string hint, IEnumerable<string> inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Fresh(hint + "/" + opType) };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(i => Fresh(outputs == 1 ? hint : $"{hint}.{i}")).ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>Declares a float32 graph input; a null dimension is symbolic (named <c>batch</c>).</summary>
    public void Input(string name, params long?[] dims) => _graph.Input.Add(ValueInfo(_names.Add(name) ? name
        : throw new InvalidOperationException($"name {name} is taken"), dims));

    public void Output(string name, params long?[] dims) => _graph.Output.Add(ValueInfo(name, dims));

    private static ValueInfoProto ValueInfo(string name, long?[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is { } v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float, Shape = shape } },
        };
    }

    /// <summary>Renames the producer of <paramref name="from"/> so the graph output carries a fixed name.</summary>
    public void RenameOutput(string from, string to)
    {
        if (!_names.Add(to)) throw new InvalidOperationException($"name {to} is taken");
        foreach (var node in _graph.Node)
            for (int i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == from) node.Output[i] = to;
    }

    public ModelProto Build(int opset, string producerVersion, string docString)
    {
        var model = new ModelProto
        {
            IrVersion = 8, // ONNX 1.12+, the IR version that goes with opset 17
            ProducerName = "fastreid-k8s",
            ProducerVersion = producerVersion,
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }
}
