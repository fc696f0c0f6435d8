using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// NAU and NMU through the host API: the after-step clamp on the fused, batched and native paths, the regulariser on
/// every path, presets, registration, checkpoints and validation.
/// </summary>
public sealed class NauNmuTests : IDisposable
{
    private readonly NaluDevice _cpu = NaluDevice.Create(DeviceKind.Cpu);
    private readonly NaluDevice _native = NaluDevice.Create(DeviceKind.Native);
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-naunmu-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose()
    {
        _cpu.Dispose();
        _native.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    public static TheoryData<string> Strategies => new() { "fused", "batched", "native" };

    private float[] OneStep(string strategy, ModelArchitecture architecture, float[] start, ArithmeticOp op, OptimizerOptions optimizer, int steps = 1)
    {
        var device = strategy == "native" ? _native : _cpu;
        using var model = new Model(device, architecture, [4]);
        model.SetParameters(start);
        using var trainer = new Trainer(model, ArithmeticTask.TwoInput(op), new TrainerOptions
        {
            Batch = 16, EvaluateEvery = 0, Optimizer = optimizer,
            Strategy = strategy switch { "fused" => TrainingStrategy.Fused, "batched" => TrainingStrategy.Batched, _ => TrainingStrategy.Native },
        });
        trainer.Train(steps);
        return model.GetParameters();
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void NauStepPastTheBoundsEndsExactlyAtTheBounds(string strategy)
    {
        // SGD lr 10: on a + b from W = (−0.99, −0.99) the error is −2(a + b), so both weights jump far past +1;
        // on a − b from W = (0.99, 0.99) the error is 2b > 0, so both jump far below −1. The clamp leaves exactly ±1.
        var nau = new ModelArchitecture([LayerSpec.Nau(2, 1)]);
        Assert.Equal([1f, 1f], OneStep(strategy, nau, [-0.99f, -0.99f], ArithmeticOp.Add, OptimizerOptions.Sgd(10f)));
        Assert.Equal([-1f, -1f], OneStep(strategy, nau, [0.99f, 0.99f], ArithmeticOp.Sub, OptimizerOptions.Sgd(10f)));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void NmuStepPastTheBoundsEndsExactlyAtTheBounds(string strategy)
    {
        // From W = (0.5, 0.5): on a × b the model is too small (error < 0, ∂L/∂W < 0), so SGD lr 100 pushes both past 1;
        // on a ÷ b it is too large on average (E[pred] ≈ 1.56 > E[a/b] ≈ 1.04), so both go below 0.
        var nmu = new ModelArchitecture([LayerSpec.Nmu(2, 1)]);
        Assert.Equal([1f, 1f], OneStep(strategy, nmu, [0.5f, 0.5f], ArithmeticOp.Mul, OptimizerOptions.Sgd(100f)));
        Assert.Equal([0f, 0f], OneStep(strategy, nmu, [0.5f, 0.5f], ArithmeticOp.Div, OptimizerOptions.Sgd(100f)));
    }

    [Fact]
    public void RegularizerActsIdenticallyOnEveryPath()
    {
        // NAU → NMU on a × b with a strong regulariser in full from step 0 (squared shape on purpose: it has no kink).
        var r = RegularizerSettings.Sparsity(50f, 0, 0, squared: true);
        var architecture = new ModelArchitecture([LayerSpec.Nau(2, 2, r), LayerSpec.Nmu(2, 1, r)]);
        float[] start = [0.3f, -0.2f, 0.6f, 0.45f, 0.35f, 0.7f];
        var adam = OptimizerOptions.Adam(1e-2f);
        var fused = OneStep("fused", architecture, start, ArithmeticOp.Mul, adam, steps: 5);
        var batched = OneStep("batched", architecture, start, ArithmeticOp.Mul, adam, steps: 5);
        var native = OneStep("native", architecture, start, ArithmeticOp.Mul, adam, steps: 5);
        var expected = fused.Select(v => (double)v).ToArray();
        Tolerance.AssertClose(expected, batched, (1e-5, 1e-4), "batched vs fused");
        Tolerance.AssertClose(expected, native, (1e-5, 1e-4), "native vs fused");

        // And it acts: without it, the same steps end elsewhere.
        var plain = new ModelArchitecture([LayerSpec.Nau(2, 2), LayerSpec.Nmu(2, 1)]);
        var unregularized = OneStep("fused", plain, start, ArithmeticOp.Mul, adam, steps: 5);
        Assert.True(fused.Zip(unregularized).Any(p => Math.Abs(p.First - p.Second) > 1e-3), "the regulariser changed nothing");
    }

    [Fact]
    public void InitialisationFollowsThePaper()
    {
        var architecture = new ModelArchitecture([LayerSpec.Nau(100, 2), LayerSpec.Nmu(2, 1), LayerSpec.Nau(1, 1)]);
        var values = architecture.Initialize(7);
        var nau = values.AsSpan(0, 200).ToArray();
        float r = MathF.Min(0.5f, MathF.Sqrt(3f) * MathF.Sqrt(2f / 102f));   // ≈ 0.243
        Assert.All(nau, v => Assert.InRange(v, -r, r));
        Assert.True(nau.Max() > 0.8f * r && nau.Min() < -0.8f * r);
        Assert.All(values.AsSpan(200, 2).ToArray(), v => Assert.InRange(v, 0.25f, 0.75f));
        Assert.InRange(values[202], -0.5f, 0.5f);                             // 1→1: r = min(0.5, √3) = 0.5
        Assert.Equal(values, architecture.Initialize(7));
        Assert.NotEqual(values, architecture.Initialize(8));
    }

    [Fact]
    public void PresetsBuildThePapersModels()
    {
        var nauNmu = ModelPresets.Create("nau-nmu", 10, 2);
        Assert.Equal([UnitKind.Nau, UnitKind.Nmu], nauNmu.Layers.Select(l => l.Kind));
        Assert.All(nauNmu.Layers, l => Assert.Equal(RegularizerSettings.Sparsity(10f, 1_000_000, 2_000_000), l.Regularizer));
        var nau = ModelPresets.Create("NAU", 10, 3);
        Assert.Equal([(10, 3), (3, 1)], nau.Layers.Select(l => (l.Inputs, l.Outputs)));
        Assert.All(nau.Layers, l => Assert.Equal(RegularizerSettings.Sparsity(0.01f, 5_000, 50_000), l.Regularizer));

        var scaled = ModelPresets.Create("nau-nmu", 10, 2, new RegularizerOverrides { ScheduleScale = 1e-3 });
        Assert.Equal((1000, 2000, 10f), (scaled.Layers[1].Regularizer.Start, scaled.Layers[1].Regularizer.End, scaled.Layers[1].Regularizer.Strength));
        var squared = ModelPresets.Create("nau-nmu", 10, 2, new RegularizerOverrides { Kind = RegularizerKind.SparsitySquared, Lambda = 2f, Start = 5, End = 7 });
        Assert.Equal(RegularizerSettings.Sparsity(2f, 5, 7, squared: true), squared.Layers[0].Regularizer);
        var none = ModelPresets.Create("nau-nmu", 10, 2, new RegularizerOverrides { Kind = RegularizerKind.None });
        Assert.All(none.Layers, l => Assert.Equal(RegularizerKind.None, l.Regularizer.Kind));

        Assert.Throws<ArgumentException>(() => ModelPresets.Create("nau-lstm", 10, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelPresets.Create("nau", 10, 2, new RegularizerOverrides { Start = 10, End = 5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelPresets.Create("nau", 10, 2, new RegularizerOverrides { End = 10 }));   // before the preset's start
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelPresets.Create("nau", 10, 2, new RegularizerOverrides { Lambda = -1f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelPresets.Create("nau", 10, 2, new RegularizerOverrides { Lambda = float.NaN }));
    }

    [Fact]
    public void RegularizerOnAUnitWithoutOneIsRejected()
    {
        var spec = LayerSpec.Nalu(2, 1) with { Regularizer = RegularizerSettings.Sparsity(1f, 0, 10) };
        var ex = Assert.Throws<ArgumentException>(() => new ModelArchitecture([spec]));
        Assert.Contains("no regulariser", ex.Message);
        Assert.Contains("Nalu", ex.Message);
        var bad = LayerSpec.Nau(2, 1) with { Regularizer = new RegularizerSettings { Kind = RegularizerKind.SparsityLinear, Strength = 1f, Start = 10, End = 5 } };
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelArchitecture([bad]));
    }

    [Fact]
    public void TensorsAreW()
    {
        Assert.Equal(["W"], LayerSpec.Nau(3, 2).Tensors.Select(t => t.Name));
        Assert.Equal([2, 3], LayerSpec.Nmu(3, 2).Tensors.Single().Shape);
        Assert.Equal(6, LayerSpec.Nmu(3, 2).ParameterCount);
    }

    [Fact]
    public void CheckpointKeepsTheRegularizerAndOldCheckpointsLoad()
    {
        var architecture = ModelPresets.Create("nau-nmu", 2, 2, new RegularizerOverrides { ScheduleScale = 1e-3, Kind = RegularizerKind.SparsitySquared });
        string path = Path.Combine(_dir, "nau-nmu.safetensors");
        using (var model = new Model(_cpu, architecture, [1, 2]))
            Checkpoint.Save(path, model);
        var contents = Checkpoint.Read(path);
        Assert.Equal(architecture.Layers, contents.Architecture.Layers);
        Assert.Equal(architecture.Initialize(2), contents.Parameters.AsSpan(architecture.ParameterCount).ToArray());
        var (tensors, metadata) = SafeTensorsFile.Read(path);
        Assert.Equal(["layers.0.W", "layers.1.W"], tensors.Select(t => t.Name).Order());
        Assert.Contains("sparsitySquared", metadata["architecture"]);

        // A layer record without the field (every checkpoint written before regularisers) loads with none.
        string plain = Path.Combine(_dir, "nac.safetensors");
        using (var model = new Model(_cpu, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), [0]))
            Checkpoint.Save(plain, model);
        Assert.DoesNotContain("regularizer", SafeTensorsFile.Read(plain).Metadata["architecture"]);
        Assert.Equal(RegularizerKind.None, Checkpoint.Read(plain).Architecture.Layers[0].Regularizer.Kind);
    }
}
