using Nalu.Gpu.Bench.Experiments;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The literature's two-layer presets, the experiment's unit names, and the sparsity error of every unit kind.</summary>
public sealed class PresetTests
{
    public static TheoryData<string> PresetNames => new(ModelPresets.All.Select(p => p.Name));

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void EveryPresetBuildsAndTrainsOnTheNativePath(string name)
    {
        var architecture = ModelPresets.Create(name, 10, 2);
        Assert.Equal(10, architecture.Inputs);
        Assert.Equal(1, architecture.Outputs);
        using var device = NaluDevice.Create(DeviceKind.Native);
        using var model = new Model(device, architecture, [1, 2]);
        using var trainer = new Trainer(model, new ArithmeticTask(ArithmeticOp.Mul, inputs: 10, subsetSize: 3, subsetGap: 3),
            new TrainerOptions { EvaluateEvery = 0, Batch = 32, Optimizer = OptimizerOptions.Adam(1e-2f), Threads = 2 });
        trainer.Train(20);
        Assert.All(trainer.LastLosses, l => Assert.True(float.IsFinite(l), $"{name}: loss {l}"));
    }

    [Fact]
    public void TheNpuPresetsPutHeimEtAlsL1OnTheNpuLayerOnly()
    {
        foreach (var name in new[] { "nau-npu", "nau-realnpu" })
        {
            var layers = ModelPresets.Create(name, 100, 2).Layers;
            Assert.Equal(UnitKind.Nau, layers[0].Kind);
            Assert.Equal(RegularizerKind.None, layers[0].Regularizer.Kind);
            Assert.Equal(RegularizerKind.L1, layers[1].Regularizer.Kind);
            Assert.Equal(1e-5f, layers[1].Regularizer.StrengthAt(0));
            Assert.Equal(1e-7f, layers[1].Regularizer.StrengthAt(1_000_000));
        }

        var changed = ModelPresets.Create("nau-npu", 100, 2, new RegularizerOverrides { BetaEnd = 1e-4f, ScheduleScale = 0.1 }).Layers[1].Regularizer;
        Assert.Equal(1e-4f, changed.StrengthEnd);
        Assert.Equal(1_000, changed.Every);
        Assert.Throws<ArgumentOutOfRangeException>(() => ModelPresets.Create("nau-npu", 100, 2, new RegularizerOverrides { BetaEnd = -1f }));
    }

    [Theory]
    [InlineData("nalu-gate", UnitKind.Nalu)]
    [InlineData("nmu", UnitKind.Nmu)]
    [InlineData("npu", UnitKind.Npu)]
    [InlineData("realnpu", UnitKind.RealNpu)]
    [InlineData("nmru", UnitKind.Nmru)]
    [InlineData("nau-npu", UnitKind.Npu)]
    [InlineData("nau-realnpu", UnitKind.RealNpu)]
    [InlineData("nau-nmru", UnitKind.Nmru)]
    [InlineData("inalu", UnitKind.INalu)]
    [InlineData("snmu", UnitKind.Snmu)]
    [InlineData("nau-snmu", UnitKind.Snmu)]
    public void TheArithmeticExperimentKnowsEveryUnitName(string name, UnitKind outputLayer)
    {
        var unit = ArithmeticUnit.Parse(name);
        Assert.Equal(name, unit.Name);
        var architecture = unit.Architecture(10, 2);
        Assert.Equal(outputLayer, architecture.Layers[^1].Kind);
        Assert.Equal(name == "nalu-gate", architecture.Layers[0].InputIndependentGate);
    }

    [Fact]
    public void SparsityErrorIsZeroForExactWeightsOfEveryNewUnitAndCountsTheRightTensors()
    {
        // NAU 3→2 then NMU 2→1 with W in {−1, 0, 1} and {0, 1}: exact.
        var nauNmu = new ModelArchitecture([LayerSpec.Nau(3, 2), LayerSpec.Nmu(2, 1)]);
        Assert.Equal(0, ArithmeticExperiment.SparsityError(nauNmu, [1, 0, -1, 0, 1, 0, 1, 0]));
        Assert.Equal(0.25, ArithmeticExperiment.SparsityError(nauNmu, [1, 0, -1, 0, 1, 0, 1, 0.25f]), 6);

        // NPU 2→1: W_re exact; W_im and the gate g are not counted.
        var npu = new ModelArchitecture([LayerSpec.Npu(2, 1)]);
        Assert.Equal(0, ArithmeticExperiment.SparsityError(npu, [1, -1, 0.4f, 0.3f, 0.5f, 0.5f]));
        Assert.Equal(0.4, ArithmeticExperiment.SparsityError(npu, [1, 0.4f, 0, 0, 0.5f, 0.5f]), 6);

        // NMRU 2→1: all 2·I weights count.
        var nmru = new ModelArchitecture([LayerSpec.Nmru(2, 1)]);
        Assert.Equal(0, ArithmeticExperiment.SparsityError(nmru, [1, 0, 0, 1]));
        Assert.Equal(0.5, ArithmeticExperiment.SparsityError(nmru, [1, 0, 0, 0.5f]), 6);

        // sNMU 2→1: its W, as the NMU's.
        var snmu = new ModelArchitecture([LayerSpec.Snmu(2, 1)]);
        Assert.Equal(0, ArithmeticExperiment.SparsityError(snmu, [1, 0]));
        Assert.Equal(0.3, ArithmeticExperiment.SparsityError(snmu, [1, 0.3f]), 6);

        // iNALU 1→1: both paths' tanh(Ŵ)·σ(M̂) count (saturated: ≈ exact), the gate G does not.
        var inalu = new ModelArchitecture([new LayerSpec(UnitKind.INalu, 1, 1)]);
        Assert.True(ArithmeticExperiment.SparsityError(inalu, [20, 20, 20, 20, 0.3f]) < 1e-6);
        double half = Math.Tanh(20) / (1 + Math.Exp(0));   // the multiplicative path's weight at M̂ = 0: ≈ 0.5
        Assert.Equal(Math.Min(half, 1 - half), ArithmeticExperiment.SparsityError(inalu, [20, 20, 20, 0, 0.3f]), 6);
    }

    [Fact]
    public void TheInaluPresetCarriesItsRecipe_AndTheTableSaysSo()
    {
        var preset = ModelPresets.Find("inalu")!;
        Assert.Equal(0.1f, preset.Training!.ClipValue);
        Assert.Equal(ModelPresets.INaluReinitializeEvery, preset.Training.ReinitializeEvery);
        Assert.All(preset.Create(10, 2).Layers, l => Assert.Equal(ModelPresets.INaluDefault, l.INaluRecipe));
        var options = preset.Training.ApplyTo(new TrainerOptions());
        Assert.Equal(0.1f, options.Optimizer.ClipValue);
        Assert.Equal(ModelPresets.INaluReinitializeEvery, options.ReinitializeEvery);
        Assert.Equal("none; iNALU recipe: clip 0.1, alternating 8/2, saturation 0.05 from step 10000 while loss < 1, reinit every 10000",
            ArithmeticUnit.Parse("inalu").Regularizer);
        var off = ArithmeticUnit.Parse("inalu").WithINaluRecipe(default, null);
        Assert.Equal("none", off.Regularizer);
        Assert.All(off.Architecture(10, 2).Layers, l => Assert.True(l.INaluRecipe.IsNone));
        Assert.Null(ModelPresets.Find("nau-nmu")!.Training);
        Assert.Throws<ArgumentException>(() => new ModelArchitecture([LayerSpec.Nac(2, 1) with { INaluRecipe = INaluRecipe.Paper(0) }]));
    }

    [Fact]
    public void TrainTakesTheNpuPresetsL1Options()
    {
        var (code, _, stderr) = CliTests.RunCli("train", "--unit", "nau-npu", "--inputs", "2", "--hidden", "2", "--op", "mul",
            "--steps", "20", "--eval-samples", "100", "--device", "native", "--quiet", "--beta-end", "1e-6", "--lambda", "1e-5");
        Assert.True(code == 0, stderr);
        (code, _, stderr) = CliTests.RunCli("train", "--unit", "nau-npu", "--inputs", "2", "--hidden", "2", "--steps", "20", "--beta-end", "-1");
        Assert.Equal(2, code);
        Assert.Contains("--beta-end", stderr);
        (code, _, stderr) = CliTests.RunCli("train", "--unit", "inalu", "--inputs", "2", "--hidden", "2", "--steps", "20", "--lambda", "1");
        Assert.Equal(2, code);
        Assert.Contains("has no regulariser", stderr);
    }
}
