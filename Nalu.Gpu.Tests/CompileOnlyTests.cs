using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Every kernel compiles for CUDA (PTX) and OpenCL C without a device, so CPU-only CI proves the GPU
/// paths build. Each (kernel, backend) is its own test case with a FRESH context: a failed compile
/// poisons its ILGPU context, and a shared one would turn one failure into many misleading ones.
/// </summary>
public sealed class CompileOnlyTests(ITestOutputHelper output)
{
    private static readonly Assembly KernelAssembly = typeof(IUnit).Assembly;

    /// <summary>
    /// Every unit type a kernel is instantiated with, found by reflection over the kernel assembly so that a new
    /// <see cref="IUnit"/> struct is compiled without anyone editing this file: every non-generic unit; every generic
    /// unit closed over each value type of the assembly that satisfies its parameter's constraints (e.g.
    /// <c>DenseUnit&lt;T&gt;</c> over every <see cref="IActivation"/>); and every generic unit whose parameters are
    /// units (<see cref="Chain{THead,TTail}"/>) nested over every non-generic unit and one closure of each generic unit,
    /// so each unit also compiles inside a chain. Compiling needs only the type: a unit whose constructor takes
    /// arguments is fine (a value type always has <c>default</c>).
    /// </summary>
    internal static readonly (string Name, Type Type)[] Units = FindUnits();

    /// <summary>Kernels generic over the unit type: public static void methods of the kernel classes with one IUnit type parameter.</summary>
    private static readonly (string Name, MethodInfo Method)[] GenericKernels = FindKernels(generic: true);

    /// <summary>Kernels with no type parameter.</summary>
    private static readonly (string Name, MethodInfo Method)[] PlainKernels = FindKernels(generic: false);

    /// <summary>Kernels generic over the data source: (IUnit, IDataSource) or (IDataSource) type parameters.</summary>
    private static readonly (string Name, MethodInfo Method)[] SourceKernels = FindSourceKernels();

    /// <summary>
    /// Every <see cref="Nalu.Gpu.Kernels.IDataSource"/> value type of the kernel assembly; generic ones (stored data
    /// over a memory type) closed over <see cref="Nalu.Gpu.Kernels.DeviceMemory"/>, the memory kernels read.
    /// The generator (<see cref="Nalu.Gpu.Kernels.ArithmeticSource"/>) comes first.
    /// </summary>
    internal static readonly (string Name, Type Type)[] Sources = KernelAssembly.GetTypes()
        .Where(t => t.IsValueType && t.GetInterfaces().Contains(typeof(Nalu.Gpu.Kernels.IDataSource)))
        .Select(t => t.IsGenericTypeDefinition ? t.MakeGenericType(t.GetGenericArguments().Select(_ => typeof(Nalu.Gpu.Kernels.DeviceMemory)).ToArray()) : t)
        .OrderBy(t => t == typeof(Nalu.Gpu.Kernels.ArithmeticSource) ? 0 : 1).ThenBy(t => t.FullName, StringComparer.Ordinal)
        .Select(t => (ShortSourceName(t), t)).ToArray();

    private static string ShortSourceName(Type t)
    {
        string name = t.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0)
            name = name[..tick];
        if (name.EndsWith("Source", StringComparison.Ordinal) && name.Length > 6)
            name = name[..^6];
        return name;
    }

    private static bool IsUnitType(Type t) => t.IsValueType && t.GetInterfaces().Contains(typeof(IUnit));

    private static bool IsUnitParameter(Type parameter) => parameter.GetGenericParameterConstraints().Contains(typeof(IUnit));

    private static bool IsSourceParameter(Type parameter) =>
        parameter.GetGenericParameterConstraints().Contains(typeof(Nalu.Gpu.Kernels.IDataSource));

    /// <summary>Kernels whose type parameters are a unit then a source, or a source alone.</summary>
    private static (string Name, MethodInfo Method)[] FindSourceKernels() => KernelAssembly.GetTypes()
        .Where(t => t.Namespace == typeof(UnitKernels).Namespace && t.IsAbstract && t.IsSealed)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .Where(m => m.ReturnType == typeof(void) && m.GetGenericArguments().Any(IsSourceParameter)
                && !m.GetGenericArguments().Any(a => a.GetGenericParameterConstraints().Contains(typeof(Nalu.Gpu.Kernels.IFloatMemory))))
            .Select(m => ($"{type.Name}.{m.Name}", m)))
        .ToArray();

    /// <summary><c>NacUnit</c> → "Nac", <c>DenseUnit&lt;Relu&gt;</c> → "Dense&lt;Relu&gt;", chains nested the same way.</summary>
    internal static string ShortName(Type t)
    {
        string name = t.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0)
            name = name[..tick];
        if (name.EndsWith("Unit", StringComparison.Ordinal) && name.Length > 4)
            name = name[..^4];
        return t.IsGenericType ? $"{name}<{string.Join(",", t.GetGenericArguments().Select(ShortName))}>" : name;
    }

    private static (string Name, Type Type)[] FindUnits()
    {
        var all = KernelAssembly.GetTypes().Where(IsUnitType).OrderBy(t => t.FullName, StringComparer.Ordinal).ToArray();
        var leaves = all.Where(t => !t.IsGenericTypeDefinition).ToList();
        var composites = new List<Type>();
        foreach (var definition in all.Where(t => t.IsGenericTypeDefinition))
        {
            var parameters = definition.GetGenericArguments();
            if (parameters.Any(IsUnitParameter))
            {
                composites.Add(definition);
                continue;
            }

            // Every combination of candidate types, one list per type parameter.
            IEnumerable<Type[]> combinations = [[]];
            foreach (var parameter in parameters)
            {
                var candidates = KernelAssembly.GetTypes()
                    .Where(c => c.IsValueType && !c.IsGenericTypeDefinition && !IsUnitType(c)
                        && parameter.GetGenericParameterConstraints().All(constraint => constraint.IsAssignableFrom(c)))
                    .OrderBy(c => c.FullName, StringComparer.Ordinal).ToArray();
                if (candidates.Length == 0)
                    throw new InvalidOperationException($"No type in {KernelAssembly.GetName().Name} satisfies {definition.Name}'s parameter {parameter.Name}.");
                combinations = combinations.SelectMany(prefix => candidates.Select(c => prefix.Append(c).ToArray())).ToList();
            }

            leaves.AddRange(combinations.Select(definition.MakeGenericType));
        }

        // The chain nests every non-generic unit and one closure of each generic one (a chain of all 15 leaves would
        // compile for minutes and test nothing more).
        var units = leaves.ToList();
        leaves = leaves.Where(t => !t.IsGenericType)
            .Concat(leaves.Where(t => t.IsGenericType).GroupBy(t => t.GetGenericTypeDefinition()).Select(g => g.First()))
            .ToList();
        Type? nested = null;
        foreach (var composite in composites)
        {
            var parameters = composite.GetGenericArguments();
            if (!parameters.All(IsUnitParameter))
                throw new InvalidOperationException($"{composite.Name} mixes unit and non-unit type parameters; teach CompileOnlyTests to close it.");
            if (parameters.Length == 1)
            {
                // A wrapper of one unit (the recurrent cell) wraps the chain of every leaf built before it, so every unit
                // compiles inside it once.
                units.Add(composite.MakeGenericType(nested ?? leaves[0]));
                continue;
            }

            // Leaves in order, nested through the last parameter: C<L1, C<L2, … C<Ln−1, Ln>>> for two parameters.
            int k = parameters.Length;
            var remaining = new Queue<Type>(leaves.Count >= k ? leaves : Enumerable.Repeat(leaves[0], k));
            Type Build()
            {
                var arguments = new Type[k];
                for (int i = 0; i < k - 1; i++)
                    arguments[i] = remaining.Count > 0 ? remaining.Dequeue() : leaves[0];
                arguments[k - 1] = remaining.Count > 1 ? Build() : remaining.Count == 1 ? remaining.Dequeue() : leaves[0];
                return composite.MakeGenericType(arguments);
            }

            nested = Build();
            units.Add(nested);
        }

        return units.Select(t => (ShortName(t), t)).ToArray();
    }

    private static (string Name, MethodInfo Method)[] FindKernels(bool generic)
    {
        var kernelClasses = KernelAssembly.GetTypes()
            .Where(t => t.Namespace == typeof(UnitKernels).Namespace && t.IsAbstract && t.IsSealed)   // static classes
            .OrderBy(t => t.Name, StringComparer.Ordinal);
        var result = new List<(string, MethodInfo)>();
        foreach (var type in kernelClasses)
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly).OrderBy(m => m.Name, StringComparer.Ordinal))
            {
                if (method.ReturnType != typeof(void))
                    continue;
                var parameters = method.GetGenericArguments();
                // Helpers generic over the memory (IFloatMemory) run inside kernels and on the host; they are not entry points.
                if (parameters.Any(a => a.GetGenericParameterConstraints().Contains(typeof(Nalu.Gpu.Kernels.IFloatMemory))))
                    continue;
                // Kernels generic over the data source are closed by FindSourceKernels.
                if (parameters.Any(IsSourceParameter))
                {
                    if (!(parameters.Length == 1 || (parameters.Length == 2 && IsUnitParameter(parameters[0]) && IsSourceParameter(parameters[1]))))
                        throw new InvalidOperationException($"{type.Name}.{method.Name} has type parameters CompileOnlyTests cannot close.");
                    continue;
                }

                if (parameters.Length == 0 && !generic)
                    result.Add(($"{type.Name}.{method.Name}", method));
                else if (parameters.Length == 1 && IsUnitParameter(parameters[0]) && generic)
                    result.Add(($"{type.Name}.{method.Name}", method));
                else if (parameters.Length > 0 && !(parameters.Length == 1 && IsUnitParameter(parameters[0])))
                    throw new InvalidOperationException($"{type.Name}.{method.Name} has type parameters CompileOnlyTests cannot close.");
            }
        }

        return result.ToArray();
    }

    /// <summary>The targets: two CUDA generations and OpenCL C 2.0 (<see cref="Nalu.Gpu.Testing.UnitChecks.Backends"/>).</summary>
    public static readonly string[] Backends = Nalu.Gpu.Testing.UnitChecks.Backends.ToArray();

    /// <summary>
    /// Unit × source kernels compiled only over the chain (which nests every unit) with each source: their unit code is the
    /// fused kernel's (<see cref="FusedTrainingKernel.AccumulateSlice"/>, compiled per unit above), so only their own frame
    /// is new, and one chain per backend proves it for every unit at a minute less of CI.
    /// </summary>
    private static readonly HashSet<string> ChainOnlyKernels = ["GroupTrainingKernel.Steps"];

    /// <summary>Every kernel: the plain ones, then each generic kernel × every unit type.</summary>
    private static readonly Dictionary<string, MethodInfo> AllKernels = BuildKernelTable();

    private static Dictionary<string, MethodInfo> BuildKernelTable()
    {
        var table = new Dictionary<string, MethodInfo>();
        foreach (var (name, method) in PlainKernels)
            table.Add(name, method);
        foreach (var (name, method) in GenericKernels)
        {
            foreach (var (unitName, unit) in Units)
                table.Add($"{name}<{unitName}>", method.MakeGenericMethod(unit));
        }

        // Unit × source kernels: every unit with the generator, and every other source with the chain of every unit
        // (unit and source code are independent, so the full product would compile the same code again for minutes).
        var chain = Units.Single(u => u.Type.IsGenericType && u.Type.GetGenericTypeDefinition() == typeof(Chain<,>));
        foreach (var (name, method) in SourceKernels)
        {
            if (method.GetGenericArguments().Length == 1)
            {
                foreach (var (sourceName, source) in Sources)
                    table.Add($"{name}<{sourceName}>", method.MakeGenericMethod(source));
                continue;
            }

            if (!ChainOnlyKernels.Contains(name))
            {
                foreach (var (unitName, unit) in Units)
                    table.Add($"{name}<{unitName},{Sources[0].Name}>", method.MakeGenericMethod(unit, Sources[0].Type));
            }

            foreach (var (sourceName, source) in ChainOnlyKernels.Contains(name) ? Sources : Sources.Skip(1))
                table.Add($"{name}<{chain.Name},{sourceName}>", method.MakeGenericMethod(chain.Type, source));
        }

        return table;
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in AllKernels.Keys)
        {
            foreach (var backend in Backends)
                data.Add(kernel, backend);
        }

        return data;
    }

    /// <summary>Compiles with a fresh context; returns the generated PTX or OpenCL C source (the unit authors' public helper).</summary>
    private static string Compile(MethodInfo kernel, string backendName, bool enableAlgorithms = true) =>
        Nalu.Gpu.Testing.UnitChecks.Compile(kernel, backendName, enableAlgorithms);

    [Theory]
    [MemberData(nameof(Cases))]
    public void KernelCompiles(string kernel, string backend)
    {
        string code = Compile(AllKernels[kernel], backend);
        if (backend.StartsWith("PTX", StringComparison.Ordinal))
        {
            Assert.Contains(".entry", code);
            // ILGPU picks the .target itself (sm_90 with ISA 8.0 is emitted as sm_80), so only its presence is checked.
            Assert.Contains(".target sm_", code);
        }
        else
        {
            Assert.Contains("kernel", code);
        }

        output.WriteLine($"{kernel} → {backend}: {code.Length} characters");
    }

    [Fact]
    public void ReflectionFindsEveryKernelAndUnitType()
    {
        // Power check of the reflection itself: what exists today must be found, so a broken filter cannot shrink the list.
        var names = Units.Select(u => u.Name).ToHashSet();
        foreach (var expected in new[] { "Nac", "NacMult", "Nalu", "PReluDense", "Dense<Linear>", "Dense<Hardtanh>" })
            Assert.Contains(expected, names);
        Assert.Contains(Units, u => u.Type.IsGenericType && u.Type.GetGenericTypeDefinition() == typeof(Chain<,>));

        // Every non-generic unit struct of the kernel assembly is compiled alone and inside the chain.
        var chain = Units.Single(u => u.Type.IsGenericType && u.Type.GetGenericTypeDefinition() == typeof(Chain<,>)).Type;
        var inChain = new List<Type>();
        void Collect(Type t)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Chain<,>))
                t.GetGenericArguments().ToList().ForEach(Collect);
            else
                inChain.Add(t);
        }

        Collect(chain);
        foreach (var unit in KernelAssembly.GetTypes().Where(t => IsUnitType(t) && !t.IsGenericTypeDefinition))
        {
            Assert.Contains(Units, u => u.Type == unit);
            Assert.Contains(unit, inChain);
            Assert.NotNull(Activator.CreateInstance(unit));   // default(T): no constructor arguments needed
        }

        // Every activation is instantiated in a dense unit.
        foreach (var activation in KernelAssembly.GetTypes().Where(t => t.IsValueType && typeof(IActivation).IsAssignableFrom(t)))
            Assert.Contains(Units, u => u.Type == typeof(DenseUnit<>).MakeGenericType(activation));

        // The kernels of today, generic and plain, are all found.
        var kernels = GenericKernels.Select(k => k.Name).Concat(PlainKernels.Select(k => k.Name)).Concat(SourceKernels.Select(k => k.Name)).ToHashSet();
        foreach (var expected in new[]
        {
            "UnitKernels.PrepareCache", "UnitKernels.Forward", "UnitKernels.Backward", "UnitKernels.FinishGradients",
            "UnitKernels.Constrain", "UnitKernels.ReduceGradients", "FusedTrainingKernel.Steps", "FusedTrainingKernel.InterleavedSteps",
            "LayoutKernels.Interleave", "LayoutKernels.Deinterleave", "EvaluationKernel.SquaredErrors",
            "UnitKernels.Constrain", "UnitKernels.ReduceGradients", "FusedTrainingKernel.Steps", "GroupTrainingKernel.Steps", "EvaluationKernel.SquaredErrors",
            "LossKernels.MseGradient", "LossKernels.MseLoss", "OptimizerKernels.NormScales", "OptimizerKernels.Update", "TaskKernels.Generate",
        })
        {
            Assert.Contains(expected, kernels);
        }

        // Every data source is found: the generator and stored data.
        Assert.Equal(["Arithmetic", "Stored"], Sources.Select(s => s.Name).ToArray());
        int unitSource = SourceKernels.Count(k => k.Method.GetGenericArguments().Length == 2 && !ChainOnlyKernels.Contains(k.Name));
        int chainOnly = SourceKernels.Count(k => ChainOnlyKernels.Contains(k.Name));
        int sourceOnly = SourceKernels.Length - unitSource - chainOnly;
        Assert.Equal(5, SourceKernels.Length);
        Assert.Equal(1, chainOnly);
        Assert.Equal(GenericKernels.Length * Units.Length + PlainKernels.Length
            + unitSource * (Units.Length + Sources.Length - 1) + (chainOnly + sourceOnly) * Sources.Length, AllKernels.Count);
    }

    /// <summary>
    /// The group kernel over the chain (which nests every unit, <see cref="Units"/>) with the generator, for Ampere (sm_80)
    /// and Hopper (sm_90); <see cref="KernelCompiles"/> adds sm_75 and OpenCL (see <see cref="ChainOnlyKernels"/>).
    /// </summary>
    public static TheoryData<string, string> GroupCases()
    {
        var chain = Units.Single(u => u.Type.IsGenericType && u.Type.GetGenericTypeDefinition() == typeof(Chain<,>));
        var data = new TheoryData<string, string>();
        foreach (var backend in new[] { "PTX sm_80", "PTX sm_90" })
            data.Add($"GroupTrainingKernel.Steps<{chain.Name},{Sources[0].Name}>", backend);
        return data;
    }

    /// <summary>
    /// The group kernel's PTX must really use what the layout rests on: dynamic shared memory and group barriers (a kernel
    /// that silently kept everything in global memory, or lost its barriers, would still train correctly on the CPU).
    /// </summary>
    [Theory]
    [MemberData(nameof(GroupCases))]
    public void GroupKernelCompilesWithSharedMemoryAndBarriers(string kernel, string backend)
    {
        string code = Compile(AllKernels[kernel], backend);
        Assert.Contains(".entry", code);
        Assert.Contains(".shared", code);
        Assert.Contains("bar.sync", code);
        output.WriteLine($"{kernel} → {backend}: {code.Length} characters");
    }

    [Fact]
    public void MissingEnableAlgorithmsIsCaught()
    {
        // The compile test can fail: without EnableAlgorithms, MathF.Exp has no PTX implementation in
        // ILGPU 1.5.3 (MathF.Tanh does: tanh.approx.f32), so the ELU forward must be rejected.
        var kernel = AllKernels["UnitKernels.Forward<Dense<Elu>>"];
        Assert.ThrowsAny<InternalCompilerException>(() => Compile(kernel, "PTX sm_75", enableAlgorithms: false));
    }
}
