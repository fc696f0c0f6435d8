using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The interleaved layout on ILGPU's CPU accelerator (CI).</summary>
public sealed class CpuInterleavedLayoutTests(CpuFixture fixture) : InterleavedLayoutTests(fixture), IClassFixture<CpuFixture>;

/// <summary>The interleaved layout on CUDA (skipped without a CUDA device).</summary>
public sealed class CudaInterleavedLayoutTests(CudaFixture fixture) : InterleavedLayoutTests(fixture), IClassFixture<CudaFixture>;

/// <summary>The interleaved layout on OpenCL (skipped without a usable OpenCL device).</summary>
public sealed class OpenCLInterleavedLayoutTests(OpenCLFixture fixture) : InterleavedLayoutTests(fixture), IClassFixture<OpenCLFixture>;

/// <summary>
/// <see cref="TrainingStrategy.FusedInterleaved"/> trains every model to the same bits as <see cref="TrainingStrategy.Fused"/>:
/// the same <see cref="FusedTrainingKernel.TrainModel"/> runs over <see cref="InterleavedMemory"/>, whose vector primitives
/// are the same loops in the same order as <see cref="DeviceMemory"/>'s, and the trainer transposes parameters and
/// optimizer state in and out exactly (pure copies). Bit equality is expected on every backend: both kernels compile the
/// same float operations in the same order; only the addresses differ.
/// </summary>
public abstract class InterleavedLayoutTests(DeviceFixture fixture)
{
    private NaluDevice Device => fixture.Device;

    private const int Inputs = 5;

    private static ModelArchitecture Architecture(string name) => name switch
    {
        "nac" => ModelArchitecture.Uniform(UnitKind.Nac, Inputs, 1),
        "nalu" => ModelArchitecture.Uniform(UnitKind.Nalu, Inputs, 1),
        "stack" => ModelArchitecture.Uniform(UnitKind.Nalu, Inputs, 2, 1),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private sealed record Run(float[] Parameters, float[] Gradients, float[] Losses, Evaluation Evaluation, BestEvaluation?[] Best);

    private Run Train(string architecture, int models, int batch, TrainingStrategy strategy)
    {
        var seeds = Enumerable.Range(40, models).ToArray();
        using var model = new Model(Device, Architecture(architecture), seeds);
        var options = new TrainerOptions
        {
            Batch = batch,
            Strategy = strategy,
            StepsPerLaunch = 3,      // 7 steps: three launches, so state goes through the transposes three times
            EvaluateEvery = 3,
            ValidationSamples = 40,
            TestSamples = 40,
            Optimizer = OptimizerOptions.Adam(1e-2f),
            // Different ops per model: a model reading another's slot would train on the wrong task and show.
            Ops = Enumerable.Range(0, models).Select(m => (ArithmeticOp)(m % 4)).ToArray(),
        };
        using var trainer = new Trainer(model, new ArithmeticTask(ArithmeticOp.Mul, Inputs), options);
        Assert.Equal(strategy, trainer.Strategy);
        trainer.Train(7);
        return new Run(model.GetParameters(), model.GetGradients(), trainer.LastLosses, trainer.Evaluate(), trainer.Best.ToArray());
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string architecture in new[] { "nac", "nalu", "stack" })
        foreach (int models in new[] { 1, 3, 33 })
        foreach (int batch in new[] { 1, 17, 50 })
            data.Add(architecture, models, batch);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InterleavedTrainsToTheRowLayoutsBits(string architecture, int models, int batch)
    {
        var row = Train(architecture, models, batch, TrainingStrategy.Fused);
        var interleaved = Train(architecture, models, batch, TrainingStrategy.FusedInterleaved);
        Assert.All(row.Losses, l => Assert.True(float.IsFinite(l)));
        Assert.Equal(Bits(row.Parameters), Bits(interleaved.Parameters));
        Assert.Equal(Bits(row.Gradients), Bits(interleaved.Gradients));
        Assert.Equal(Bits(row.Losses), Bits(interleaved.Losses));
        Assert.Equal(row.Evaluation.Interpolation, interleaved.Evaluation.Interpolation);
        Assert.Equal(row.Evaluation.Extrapolation, interleaved.Evaluation.Extrapolation);
        for (int m = 0; m < models; m++)
        {
            Assert.Equal(row.Best[m]?.Step, interleaved.Best[m]?.Step);
            Assert.Equal(Bits(row.Best[m]?.Parameters ?? []), Bits(interleaved.Best[m]?.Parameters ?? []));
        }
    }

    [Fact]
    public void TheTransposesPutElementJOfModelPAtJTimesPPlusP()
    {
        // Power check of the layout itself: were the copies identities, the bit-equality above would still hold.
        const int models = 3, elements = 5;
        var rows = Enumerable.Range(0, models * elements).Select(k => (float)k).ToArray();
        var accelerator = Device.Accelerator;
        using var source = accelerator.Allocate1D(rows);
        using var interleaved = accelerator.Allocate1D<float>(rows.Length);
        using var back = accelerator.Allocate1D<float>(rows.Length);
        var common = CommonKernels.For(Device);
        common.Interleave(models, elements, source.View, interleaved.View);
        common.Deinterleave(models, elements, interleaved.View, back.View);
        var result = interleaved.GetAsArray1D();
        for (int p = 0; p < models; p++)
        {
            for (int j = 0; j < elements; j++)
                Assert.Equal(rows[p * elements + j], result[j * models + p]);
        }

        Assert.Equal(rows, back.GetAsArray1D());
    }
}

/// <summary>Host-side checks of the interleaved memory and its kernel's GPU code.</summary>
public sealed class InterleavedMemoryTests
{
    [Fact]
    public void InterleavedMemoryAddressesItsModelsColumn()
    {
        using var context = Context.Create(b => b.CPU());
        using var accelerator = context.CreateCPUAccelerator(0);
        using var buffer = accelerator.Allocate1D<float>(12);
        buffer.MemSetToZero();
        var memory = new InterleavedMemory(buffer.View, 4, 2);
        memory[0] = 1f;
        memory[1] = 2f;
        memory[2] = 3f;
        memory.AddScaled(0, 10f, memory, 1, 2);   // element 0 += 10·element 1, element 1 += 10·element 2
        var values = buffer.GetAsArray1D();
        Assert.Equal([0, 0, 21, 0, 0, 0, 32, 0, 0, 0, 3, 0], values);
        Assert.Equal(21f * 32f + 32f * 3f, memory.Dot(0, memory, 1, 2));
    }

    public static TheoryData<string, string> CompileCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string unit in new[] { "Nac", "Nalu", "Chain<Nalu,Nalu>" })
        foreach (string backend in new[] { "PTX sm_80", "PTX sm_90" })
            data.Add(unit, backend);
        return data;
    }

    [Theory]
    [MemberData(nameof(CompileCases))]
    public void InterleavedKernelCompilesForAmpereAndHopper(string unit, string backend)
    {
        var type = unit switch
        {
            "Nac" => typeof(NacUnit),
            "Nalu" => typeof(NaluUnit),
            _ => typeof(Chain<NaluUnit, NaluUnit>),
        };
        var kernel = typeof(FusedTrainingKernel).GetMethod(nameof(FusedTrainingKernel.InterleavedSteps))!
            .MakeGenericMethod(type, typeof(ArithmeticSource));
        string ptx = Nalu.Gpu.Testing.UnitChecks.Compile(kernel, backend);
        Assert.Contains(".entry", ptx);
        Assert.Contains(".target sm_", ptx);
    }
}
