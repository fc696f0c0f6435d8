using System.Globalization;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The NPU, RealNPU (and later units) end to end: registration in <see cref="LayerSpec"/>, initialisation, the native
/// path against the fused kernel, <c>train --unit NAME --save</c>, <c>predict</c> and the checkpoint round trip.
/// </summary>
public sealed class UnitRegistrationTests(ITestOutputHelper output)
{
    public static TheoryData<string> CliUnits => new() { "npu", "realnpu", "nmru", "nalu-gate", "inalu", "snmu" };

    [Theory]
    [MemberData(nameof(CliUnits))]
    public void TrainSavePredictAndLoad(string unit)
    {
        string dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-unit-" + Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            string checkpoint = Path.Combine(dir, "model.safetensors");
            var (code, stdout, stderr) = CliTests.RunCli(
                "train", "--inputs", "2", "--hidden", "2", "--unit", unit, "--op", "mul", "--steps", "30", "--eval-samples", "100",
                "--device", "native", "--quiet", "--save", checkpoint);
            output.WriteLine(stdout + stderr);
            Assert.True(code == 0, $"train --unit {unit} exited {code}: {stderr}");

            string input = Path.Combine(dir, "in.csv"), predictions = Path.Combine(dir, "out.csv");
            File.WriteAllText(input, "a,b\n1.5,2\n-1.25,0.5\n3,-4\n");
            (code, stdout, stderr) = CliTests.RunCli("predict", "--checkpoint", checkpoint, "--input", input, "--output", predictions, "--device", "cpu");
            Assert.True(code == 0, $"predict exited {code}: {stderr}");
            var rows = File.ReadAllLines(predictions).Skip(1).Select(l => float.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).ToArray();

            using var device = NaluDevice.Create(DeviceKind.Cpu);
            using var model = Checkpoint.Load(checkpoint, device, out var contents);
            Assert.Equal(ModelOptionsKind(unit), contents.Architecture.Layers[0].Kind);
            var y = model.Predict([1.5f, 2f, -1.25f, 0.5f, 3f, -4f], samples: 3)[0];
            Assert.Equal(3, rows.Length);
            for (int b = 0; b < 3; b++)
                Assert.Equal(y[b], rows[b], 5);

            // Save again and read back: the same tensors.
            string again = Path.Combine(dir, "again.safetensors");
            Checkpoint.Save(again, model);
            var reread = Checkpoint.Read(again);
            Assert.Equal(contents.Parameters, reread.Parameters);
            Assert.Equal(contents.Architecture.Layers, reread.Architecture.Layers);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static UnitKind ModelOptionsKind(string unit) => unit switch
    {
        "npu" => UnitKind.Npu,
        "realnpu" => UnitKind.RealNpu,
        "nmru" => UnitKind.Nmru,
        "nalu-gate" => UnitKind.Nalu,
        "inalu" => UnitKind.INalu,
        "snmu" => UnitKind.Snmu,
        _ => throw new ArgumentOutOfRangeException(nameof(unit)),
    };

    [Fact]
    public void NpuTensorsAndInitialisation()
    {
        var npu = LayerSpec.Npu(3, 2);
        Assert.Equal([("W_re", [2, 3]), ("W_im", [2, 3]), ("g", [3])], npu.Tensors.Select(t => (t.Name, t.Shape)).ToArray(), TensorComparer);
        Assert.Equal(["W_re", "g"], LayerSpec.RealNpu(3, 2).Tensors.Select(t => t.Name));
        var arch = new ModelArchitecture([npu]);
        var values = arch.Initialize(7);
        float bound = MathF.Sqrt(6f / 5f);
        Assert.All(values[..6], v => Assert.InRange(v, -bound, bound));
        Assert.Contains(values[..6], v => v != 0f);
        Assert.All(values[6..12], v => Assert.Equal(0f, v));
        Assert.All(values[12..], v => Assert.Equal(0.5f, v));
        var gated = new ModelArchitecture([LayerSpec.RealNpu(3, 2) with { NpuInitialGate = 1f }]).Initialize(7);
        Assert.All(gated[6..], v => Assert.Equal(1f, v));
    }

    [Fact]
    public void BadOptionsAreClearErrors()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new ModelArchitecture([LayerSpec.Npu(2, 1) with { NpuInitialGate = 1.5f }]));
        Assert.Equal(nameof(LayerSpec.NpuInitialGate), ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelArchitecture([LayerSpec.RealNpu(2, 1) with { NpuInitialGate = -0.1f }]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelArchitecture([LayerSpec.RealNpu(2, 1) with { NpuInitialGate = float.NaN }]));
        // A regulariser on a unit that does not define it, or of the wrong kind.
        Assert.Throws<ArgumentException>(() => new ModelArchitecture([LayerSpec.Nac(2, 1) with { Regularizer = RegularizerSettings.L1(1e-5f, 1e-4f, 10) }]));
        Assert.Throws<ArgumentException>(() => new ModelArchitecture([LayerSpec.Npu(2, 1) with { Regularizer = RegularizerSettings.Sparsity(1f, 0, 10) }]));
        Assert.Throws<ArgumentException>(() => new ModelArchitecture([LayerSpec.Nmru(2, 1) with { Regularizer = RegularizerSettings.L1(1e-5f, 1e-4f, 10) }]));
        _ = new ModelArchitecture([LayerSpec.Npu(2, 1, RegularizerSettings.L1(1e-5f, 1e-4f, 10))]);
    }

    public static TheoryData<string> NativeCases => new() { "npu", "realnpu", "npu-l1", "nmru-sparsity" };

    /// <summary>
    /// One model, batch split across cores, against the fused kernel on the CPU accelerator: the same math in a different
    /// summation order (as <see cref="NativePathTests"/>), regulariser included. Measured: ≈ 1e-6 relative after 20 steps.
    /// </summary>
    [Theory]
    [MemberData(nameof(NativeCases))]
    public void NativePathMatchesTheFusedKernel(string name)
    {
        var l1 = RegularizerSettings.L1(1e-3f, 1e-1f, 5);
        var sparsity = RegularizerSettings.Sparsity(1f, 5, 15);
        var architecture = name switch
        {
            "npu" => new ModelArchitecture([LayerSpec.Npu(100, 3), LayerSpec.Npu(3, 1)]),
            "realnpu" => new ModelArchitecture([LayerSpec.RealNpu(100, 3), LayerSpec.RealNpu(3, 1)]),
            "npu-l1" => new ModelArchitecture([LayerSpec.Npu(100, 3, l1), LayerSpec.Npu(3, 1, l1)]),
            _ => new ModelArchitecture([LayerSpec.Nmru(100, 3, sparsity), LayerSpec.Nmru(3, 1, sparsity)]),
        };
        var task = name.StartsWith("nmru", StringComparison.Ordinal)
            ? new ArithmeticTask(ArithmeticOp.Div)
            : new ArithmeticTask(ArithmeticOp.Div, 100, SampleInterval.Parse("-2:2"), SampleInterval.Parse("-6:-2,2:6"));
        float[] Train(DeviceKind kind)
        {
            using var device = NaluDevice.Create(kind);
            using var model = new Model(device, architecture, [3]);
            using var trainer = new Trainer(model, task, new TrainerOptions
            {
                Batch = 33, EvaluateEvery = 0, StepsPerLaunch = 7, Optimizer = OptimizerOptions.Adam(1e-2f),
                Strategy = kind == DeviceKind.Native ? TrainingStrategy.Native : TrainingStrategy.Fused,
            });
            trainer.Train(20);
            Assert.All(trainer.LastLosses, l => Assert.True(float.IsFinite(l)));
            return model.GetParameters();
        }

        var fused = Train(DeviceKind.Cpu).Select(v => (double)v).ToArray();
        var native = Train(DeviceKind.Native);
        Tolerance.AssertClose(fused, native, (1e-4, 1e-3), $"{name} native vs fused");
    }

    [Fact]
    public void NmruTensorsAndInitialisation()
    {
        var nmru = LayerSpec.Nmru(3, 2);
        Assert.Equal("W", nmru.Tensors.Single().Name);
        Assert.Equal([2, 6], nmru.Tensors.Single().Shape);
        var values = new ModelArchitecture([nmru]).Initialize(4);
        Assert.Equal(12, values.Length);
        Assert.All(values, v => Assert.InRange(v, 0.25f, 0.75f));
    }

    private static readonly IEqualityComparer<(string, int[])> TensorComparer = EqualityComparer<(string, int[])>.Create(
        (a, b) => a.Item1 == b.Item1 && a.Item2.SequenceEqual(b.Item2), t => t.Item1.GetHashCode());
}
