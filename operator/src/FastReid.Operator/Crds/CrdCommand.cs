namespace FastReid.Operator.Crds;

/// <summary><c>fastreid-operator crds [--output DIR]</c>: writes every CRD to DIR (one file each) or to stdout as one stream.</summary>
internal static class CrdCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? output = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--output" or "-o" && i + 1 < args.Length) output = args[++i];
            else { stderr.WriteLine($"crds: unknown argument '{args[i]}'; usage: fastreid-operator crds [--output DIR]"); return 2; }
        }
        var crds = CrdGenerator.All();
        if (output is null)
        {
            stdout.Write(string.Join("---\n", crds.Select(CrdGenerator.ToYaml)));
            return 0;
        }
        Directory.CreateDirectory(output);
        foreach (var crd in crds)
        {
            var path = Path.Combine(output, CrdGenerator.FileName(crd));
            File.WriteAllText(path, CrdGenerator.ToYaml(crd));
            stdout.WriteLine($"wrote {path}");
        }
        return 0;
    }
}
