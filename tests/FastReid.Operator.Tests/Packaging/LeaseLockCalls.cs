using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace FastReid.Operator.Tests.Packaging;

/// <summary>
/// The Lease API methods KubernetesClient's <c>LeaseLock</c> calls, read from its IL (the lock is library
/// code, so the operator's source does not show them): call/callvirt targets named *Lease*Async in the
/// methods of LeaseLock and of its nested (async state machine) types.
/// </summary>
internal static class LeaseLockCalls
{
    public static SortedSet<string> Read()
    {
        var type = typeof(k8s.LeaderElection.ResourceLock.LeaseLock);
        using var stream = File.OpenRead(type.Assembly.Location);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var lockType = md.TypeDefinitions.Single(h => md.GetString(md.GetTypeDefinition(h).Name) == type.Name
            && md.GetString(md.GetTypeDefinition(h).Namespace) == type.Namespace);
        var types = new List<TypeDefinitionHandle> { lockType };
        for (int i = 0; i < types.Count; i++) types.AddRange(md.GetTypeDefinition(types[i]).GetNestedTypes());

        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var method in types.SelectMany(t => md.GetTypeDefinition(t).GetMethods()))
        {
            var rva = md.GetMethodDefinition(method).RelativeVirtualAddress;
            if (rva == 0) continue;
            var il = pe.GetMethodBody(rva).GetILReader();
            while (il.RemainingBytes > 0)
            {
                var opcode = ReadOpCode(ref il);
                if (opcode is ILOpCode.Call or ILOpCode.Callvirt)
                {
                    var name = MethodName(md, MetadataTokens.EntityHandle(il.ReadInt32()));
                    if (name.Contains("Lease", StringComparison.Ordinal) && name.EndsWith("Async", StringComparison.Ordinal)) names.Add(name);
                }
                else
                {
                    SkipOperand(ref il, opcode);
                }
            }
        }
        return names;
    }

    private static string MethodName(MetadataReader md, EntityHandle handle) => handle.Kind switch
    {
        HandleKind.MethodDefinition => md.GetString(md.GetMethodDefinition((MethodDefinitionHandle)handle).Name),
        HandleKind.MemberReference => md.GetString(md.GetMemberReference((MemberReferenceHandle)handle).Name),
        HandleKind.MethodSpecification => MethodName(md, md.GetMethodSpecification((MethodSpecificationHandle)handle).Method),
        _ => "",
    };

    private static ILOpCode ReadOpCode(ref BlobReader il)
    {
        byte first = il.ReadByte();
        return first == 0xFE ? (ILOpCode)(0xFE00 | il.ReadByte()) : (ILOpCode)first;
    }

    private static void SkipOperand(ref BlobReader il, ILOpCode opcode)
    {
        if (opcode == ILOpCode.Switch)
        {
            int count = il.ReadInt32();
            il.Offset += 4 * count;
            return;
        }
        il.Offset += opcode.IsBranch() ? opcode.GetBranchOperandSize() : OperandSize(opcode);
    }

    /// <summary>Operand sizes of the non-branch opcodes (ECMA-335 III).</summary>
    private static int OperandSize(ILOpCode opcode) => opcode switch
    {
        ILOpCode.Ldarg_s or ILOpCode.Ldarga_s or ILOpCode.Starg_s or ILOpCode.Ldloc_s or ILOpCode.Ldloca_s or ILOpCode.Stloc_s
            or ILOpCode.Ldc_i4_s or ILOpCode.Unaligned => 1,
        ILOpCode.Ldarg or ILOpCode.Ldarga or ILOpCode.Starg or ILOpCode.Ldloc or ILOpCode.Ldloca or ILOpCode.Stloc => 2,
        ILOpCode.Ldc_i8 or ILOpCode.Ldc_r8 => 8,
        ILOpCode.Ldc_i4 or ILOpCode.Ldc_r4 or ILOpCode.Jmp or ILOpCode.Call or ILOpCode.Calli or ILOpCode.Callvirt or ILOpCode.Cpobj
            or ILOpCode.Ldobj or ILOpCode.Ldstr or ILOpCode.Newobj or ILOpCode.Castclass or ILOpCode.Isinst or ILOpCode.Unbox
            or ILOpCode.Ldfld or ILOpCode.Ldflda or ILOpCode.Stfld or ILOpCode.Ldsfld or ILOpCode.Ldsflda or ILOpCode.Stsfld
            or ILOpCode.Stobj or ILOpCode.Box or ILOpCode.Newarr or ILOpCode.Ldelema or ILOpCode.Ldelem or ILOpCode.Stelem
            or ILOpCode.Unbox_any or ILOpCode.Refanyval or ILOpCode.Mkrefany or ILOpCode.Ldtoken or ILOpCode.Ldftn
            or ILOpCode.Ldvirtftn or ILOpCode.Initobj or ILOpCode.Constrained or ILOpCode.Sizeof => 4,
        _ => 0,
    };
}
