using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Nalu.Gpu.Kernels.Kernels;
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
    /// <summary>Every unit type a kernel is instantiated with, by a short name used in the test case names.</summary>
    private static readonly (string Name, Type Type)[] Units =
    [
        ("Nac", typeof(NacUnit)),
        ("NacMult", typeof(NacMultUnit)),
        ("Nalu", typeof(NaluUnit)),
        ("Npu", typeof(NpuUnit)),
        ("RealNpu", typeof(RealNpuUnit)),
        ("Nmru", typeof(NmruUnit)),
        ("INalu", typeof(INaluUnit)),
        ("Dense<Linear>", typeof(DenseUnit<Linear>)),
        ("Dense<Relu>", typeof(DenseUnit<Relu>)),
        ("Dense<Relu6>", typeof(DenseUnit<Relu6>)),
        ("Dense<Tanh>", typeof(DenseUnit<Tanh>)),
        ("Dense<Sigmoid>", typeof(DenseUnit<Sigmoid>)),
        ("Dense<Elu>", typeof(DenseUnit<Elu>)),
        ("Dense<Selu>", typeof(DenseUnit<Selu>)),
        ("Dense<Softplus>", typeof(DenseUnit<Softplus>)),
        ("Dense<LeakyRelu>", typeof(DenseUnit<LeakyRelu>)),
        ("Dense<Softsign>", typeof(DenseUnit<Softsign>)),
        ("Dense<Hardtanh>", typeof(DenseUnit<Hardtanh>)),
        ("Nau", typeof(NauUnit)),
        ("Nmu", typeof(NmuUnit)),
        ("Chain<Nalu,Nalu>", typeof(Chain<NaluUnit, NaluUnit>)),
        ("Chain<Nau,Nmu>", typeof(Chain<NauUnit, NmuUnit>)),
        ("Chain<Dense<Relu>,Chain<Dense<Relu>,Dense<Linear>>>",
            typeof(Chain<DenseUnit<Relu>, Chain<DenseUnit<Relu>, DenseUnit<Linear>>>)),
    ];

    /// <summary>Kernels generic over the unit type.</summary>
    private static readonly (string Name, MethodInfo Method)[] GenericKernels =
    [
        ("UnitKernels.PrepareCache", Method(typeof(UnitKernels), nameof(UnitKernels.PrepareCache))),
        ("UnitKernels.Forward", Method(typeof(UnitKernels), nameof(UnitKernels.Forward))),
        ("UnitKernels.Backward", Method(typeof(UnitKernels), nameof(UnitKernels.Backward))),
        ("UnitKernels.FinishGradients", Method(typeof(UnitKernels), nameof(UnitKernels.FinishGradients))),
        ("UnitKernels.Constrain", Method(typeof(UnitKernels), nameof(UnitKernels.Constrain))),
        ("FusedTrainingKernel.Steps", Method(typeof(FusedTrainingKernel), nameof(FusedTrainingKernel.Steps))),
        ("EvaluationKernel.SquaredErrors", Method(typeof(EvaluationKernel), nameof(EvaluationKernel.SquaredErrors))),
    ];

    /// <summary>Kernels with no type parameter.</summary>
    private static readonly (string Name, MethodInfo Method)[] PlainKernels =
    [
        ("UnitKernels.ReduceGradients", Method(typeof(UnitKernels), nameof(UnitKernels.ReduceGradients))),
        ("LossKernels.MseGradient", Method(typeof(LossKernels), nameof(LossKernels.MseGradient))),
        ("LossKernels.MseLoss", Method(typeof(LossKernels), nameof(LossKernels.MseLoss))),
        ("OptimizerKernels.NormScales", Method(typeof(OptimizerKernels), nameof(OptimizerKernels.NormScales))),
        ("OptimizerKernels.Update", Method(typeof(OptimizerKernels), nameof(OptimizerKernels.Update))),
        ("TaskKernels.Generate", Method(typeof(TaskKernels), nameof(TaskKernels.Generate))),
    ];

    /// <summary>The targets: two CUDA generations and OpenCL C 2.0.</summary>
    public static readonly string[] Backends = ["PTX sm_75", "PTX sm_90", "OpenCL C 2.0"];

    private static MethodInfo Method(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
        ?? throw new MissingMethodException(type.Name, name);

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

    private static Backend CreateBackend(Context context, string backend) => backend switch
    {
        "PTX sm_75" => new PTXBackend(context, CudaArchitecture.SM_75, CudaInstructionSet.ISA_78, null!),
        "PTX sm_90" => new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!),
        "OpenCL C 2.0" => new CLBackend(context,
            // Float16, Float64, GenericAddressSpace, Int64_Atomics, SubGroups (order of ILGPU's Static/Capabilities.xml).
            new CLCapabilityContext(false, true, true, true, false),
            CLDeviceVendor.Other, CLCVersion.CL20),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown backend."),
    };

    /// <summary>Compiles with a fresh context; returns the generated PTX or OpenCL C source.</summary>
    private static string Compile(MethodInfo kernel, string backendName, bool enableAlgorithms = true)
    {
        using var context = Context.Create(b =>
        {
            if (enableAlgorithms)
                b.EnableAlgorithms();
        });
        using var backend = CreateBackend(context, backendName);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        var compiled = backend.Compile(entry, new KernelSpecialization());
        return compiled switch
        {
            PTXCompiledKernel ptx => ptx.PTXAssembly,
            CLCompiledKernel cl => cl.Source,
            _ => throw new InvalidOperationException($"Unexpected compiled kernel type {compiled.GetType()}."),
        };
    }

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
    public void EveryKernelAndUnitTypeIsCovered()
    {
        // Every public static kernel method of the kernel classes is listed (a new kernel must join the table).
        var listed = PlainKernels.Select(k => k.Method).Concat(GenericKernels.Select(k => k.Method)).ToHashSet();
        var kernelClasses = new[] { typeof(UnitKernels), typeof(LossKernels), typeof(OptimizerKernels), typeof(TaskKernels),
            typeof(FusedTrainingKernel), typeof(EvaluationKernel) };
        var launchable = kernelClasses
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void))
            // Helpers generic over the memory (IFloatMemory) run inside kernels and on the host; they are not entry points.
            .Where(m => !m.GetGenericArguments().Any(a => a.GetGenericParameterConstraints().Contains(typeof(Nalu.Gpu.Kernels.IFloatMemory))));
        Assert.All(launchable, m => Assert.Contains(m, listed));

        // Every activation in Units/Activations.cs is instantiated at least once.
        var activations = typeof(IActivation).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IActivation).IsAssignableFrom(t)).ToArray();
        Assert.Equal(11, activations.Length);
        foreach (var activation in activations)
            Assert.Contains(Units, u => u.Type == typeof(DenseUnit<>).MakeGenericType(activation));
        Assert.Equal(GenericKernels.Length * Units.Length + PlainKernels.Length, AllKernels.Count);
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
