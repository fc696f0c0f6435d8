using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// iNALU's training recipe, piece by piece: the saturation regulariser against its double reference and finite
/// differences, the alternating-update mask (frozen parameters and their Adam moments bit-unchanged on the fused, batched
/// and native paths), and the re-initialisation of a stuck model in a population (the others bit-identical to training
/// without it).
/// </summary>
public sealed unsafe class INaluRecipeTests(ITestOutputHelper output)
{
    private const int Inputs = 3, Outputs = 2;

    private static float[] RegularizerGradient(INaluUnit unit, float[] parameters, int step, float loss)
    {
        var grad = new float[unit.ParameterCount];
        fixed (float* p = parameters, g = grad)
        {
            for (int e = 0; e < unit.ElementCount; e++)
                unit.Regularize(e, step, loss, new HostMemory(p), 0, new HostMemory(g), 0);
        }

        return grad;
    }

    [Fact]
    public void SaturationRegularizer_ReferenceMatchesFiniteDifferences_AndTheUnitMatchesTheReference()
    {
        var recipe = INaluRecipe.Paper(saturationStart: 5);
        var unit = new INaluUnit(Inputs, Outputs, recipe);
        var rng = new Random(91);
        // |v| in [0.1, 19.5] and [20.5, 30] with both signs: away from the kinks at 0 and ±20, and some past ω (gradient 0).
        var parameters = Enumerable.Range(0, unit.ParameterCount)
            .Select(k => (k % 3 == 0 ? 20.5 + 9.5 * rng.NextDouble() : 0.1 + 19.4 * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1)).ToArray();
        var reference = INaluReference.SaturationGradient(parameters, recipe, step: 7, loss: 0.5);
        FiniteDifferences.CompareGradient("iNALU saturation regulariser", parameters, reference,
            p => INaluReference.SaturationLoss(p, recipe, 7, 0.5), atol: 1e-9, rtol: 1e-6);
        Assert.Contains(reference, g => g != 0);
        Assert.Contains(reference, g => g == 0);   // the parameters past ω

        var grad = RegularizerGradient(unit, parameters.Select(v => (float)v).ToArray(), step: 7, loss: 0.5f);
        Tolerance.AssertClose(reference, grad, (1e-9, 1e-6), "float iNALU saturation gradient");
    }

    [Theory]
    [InlineData(4, 0.5f)]        // before the start
    [InlineData(7, 1f)]          // loss not below 1
    [InlineData(7, float.NaN)]   // no finite loss
    public void SaturationRegularizer_IsOffBeforeItsStartAndAtHighLoss(int step, float loss)
    {
        var recipe = INaluRecipe.Paper(saturationStart: 5);
        var unit = new INaluUnit(Inputs, Outputs, recipe);
        var parameters = Enumerable.Range(0, unit.ParameterCount).Select(k => 0.3f * (k + 1)).ToArray();
        Assert.All(RegularizerGradient(unit, parameters, step, loss), g => Assert.Equal(0f, g));
        Assert.All(INaluReference.SaturationGradient(parameters.Select(v => (double)v).ToArray(), recipe, step, loss), g => Assert.Equal(0, g));
        // The same parameters at an applying step do get a gradient: the test above can fail.
        Assert.Contains(RegularizerGradient(unit, parameters, 5, 0.5f), g => g != 0f);
    }

    [Fact]
    public void Trains_EightWeightStepsThenTwoGateSteps_AsTheReference()
    {
        var recipe = INaluRecipe.Paper(0);
        var unit = new INaluUnit(Inputs, Outputs, recipe);
        var chain = new Chain<NauUnit, INaluUnit>(new NauUnit(2, Inputs), unit);
        int weights = 4 * Inputs * Outputs;
        for (int step = 0; step < 30; step++)
        {
            for (int j = 0; j < unit.ParameterCount; j++)
            {
                Assert.Equal(INaluReference.Trains(recipe, Inputs, Outputs, j, step), unit.Trains(j, step));
                Assert.Equal(j < weights ? step % 10 < 8 : step % 10 >= 8, unit.Trains(j, step));
                Assert.Equal(unit.Trains(j, step), chain.Trains(2 * Inputs + j, step));
            }

            Assert.True(chain.Trains(0, step));   // the NAU trains at every step
            Assert.True(new INaluUnit(Inputs, Outputs).Trains(0, step) && new INaluUnit(Inputs, Outputs).Trains(weights, step));
        }
    }

    public static TheoryData<DeviceKind, TrainingStrategy> Paths => new()
    {
        { DeviceKind.Cpu, TrainingStrategy.Fused },
        { DeviceKind.Cpu, TrainingStrategy.Batched },
        { DeviceKind.Native, TrainingStrategy.Native },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void AlternatingUpdates_FrozenParametersAndTheirMomentsAreBitUnchanged(DeviceKind kind, TrainingStrategy strategy)
    {
        var recipe = INaluRecipe.Paper(0);
        var architecture = new ModelArchitecture([LayerSpec.INalu(2, 2, recipe), LayerSpec.INalu(2, 1, recipe)]);
        // Per parameter of the flat block: is it a gate (G) value?
        var gate = architecture.Layers.SelectMany(l => Enumerable.Range(0, l.ParameterCount).Select(j => j >= 4 * l.Inputs * l.Outputs)).ToArray();
        using var device = NaluDevice.Create(kind);
        using var model = new Model(device, architecture, [3, 4]);
        var task = new ArithmeticTask(ArithmeticOp.Mul, 2, new SampleInterval(1, 2), new SampleInterval(2, 6));
        using var trainer = new Trainer(model, task, new TrainerOptions
        {
            Batch = 20, EvaluateEvery = 0, Strategy = strategy, StepsPerLaunch = 3,
            Optimizer = OptimizerOptions.Adam(1e-2f).WithClipping(0.1f, 0f),
        });

        // Steps 0–7 train the weights; step 8 the gate: the weights and their moments must not move.
        trainer.Train(8);
        var (p8, s8) = (model.GetParameters(), trainer.GetOptimizerState());
        trainer.Train(1);
        var (p9, s9) = (model.GetParameters(), trainer.GetOptimizerState());
        AssertFrozen(p8, s8, p9, s9, frozen: j => !gate[j % gate.Length], "step 8 (gate step): weights");
        // Step 9 trains the gate, step 10 the weights: the gate must not move at step 10.
        trainer.Train(1);
        var (p10, s10) = (model.GetParameters(), trainer.GetOptimizerState());
        trainer.Train(1);
        var (p11, s11) = (model.GetParameters(), trainer.GetOptimizerState());
        AssertFrozen(p10, s10, p11, s11, frozen: j => gate[j % gate.Length], "step 10 (weight step): gate");
    }

    private void AssertFrozen(float[] before, float[] stateBefore, float[] after, float[] stateAfter, Func<int, bool> frozen, string what)
    {
        int moved = 0;
        for (int j = 0; j < before.Length; j++)
        {
            if (frozen(j))
            {
                Assert.True(BitConverter.SingleToInt32Bits(before[j]) == BitConverter.SingleToInt32Bits(after[j]), $"{what}: parameter {j} changed");
                Assert.True(stateBefore[2 * j] == stateAfter[2 * j] && stateBefore[2 * j + 1] == stateAfter[2 * j + 1], $"{what}: moments of {j} changed");
            }
            else if (before[j] != after[j])
            {
                moved++;
            }
        }

        // The trained group did move: the mask is not freezing everything.
        output.WriteLine($"{what}: {moved} trained parameters moved");
        Assert.True(moved > 0, $"{what}: nothing trained");
    }

    private static (float[] Parameters, float[] State, IReadOnlyList<Reinitialization> Resets) TrainPopulation(
        int[] seeds, float[] learningRates, int steps, int stepsPerLaunch, int reinitializeEvery, int? stopAt = null)
    {
        using var device = NaluDevice.Create(DeviceKind.Native);
        var architecture = ModelPresets.Create("inalu", 2, 2);
        using var model = new Model(device, architecture, seeds);
        var task = new ArithmeticTask(ArithmeticOp.Mul, 2, new SampleInterval(1, 2), new SampleInterval(2, 6));
        using var trainer = new Trainer(model, task, new TrainerOptions
        {
            Batch = 16, EvaluateEvery = 0, StepsPerLaunch = stepsPerLaunch, LearningRates = learningRates,
            Optimizer = OptimizerOptions.Adam(1e-2f).WithClipping(0.1f, 0f), ReinitializeEvery = reinitializeEvery,
        });
        trainer.Train(stopAt ?? steps);
        return (model.GetParameters(), trainer.GetOptimizerState(), trainer.Reinitializations.ToArray());
    }

    [Fact]
    public void Reinitialization_ResetsOnlyTheStuckModel_TheOthersAreBitIdenticalToTrainingWithoutIt()
    {
        // Model 1 is stuck on purpose: a learning rate of 1e-12 leaves its loss flat (and far above 1).
        const int window = 100, steps = 150;
        int[] seeds = [11, 10, 12];
        float[] rates = [1e-2f, 1e-12f, 1e-2f];
        var (p, s, resets) = TrainPopulation(seeds, rates, steps, stepsPerLaunch: 7, window);
        var (pAlone, sAlone, resetsAlone) = TrainPopulation([11, 12], [1e-2f, 1e-2f], steps, stepsPerLaunch: 50, window);
        output.WriteLine($"resets with the stuck model: {string.Join(", ", resets)}; without: {string.Join(", ", resetsAlone)}");

        Assert.Contains(new Reinitialization(1, window), resets);
        // Whatever happens to models 0 and 2 (reset or not), it happens alike without model 1.
        Assert.Equal(resets.Where(r => r.Model != 1).Select(r => (r.Model / 2, r.Step)), resetsAlone.Select(r => (r.Model, r.Step)));
        int n = p.Length / 3;
        Assert.Equal(p[..n], pAlone[..n]);
        Assert.Equal(p[(2 * n)..], pAlone[n..]);
        Assert.Equal(s[..(2 * n)], sAlone[..(2 * n)]);
        Assert.Equal(s[(4 * n)..], sAlone[(2 * n)..]);

        // At the reset itself: model 1 holds exactly its U(−2, 2) draws keyed by (seed, step), and zero moments.
        var (pReset, sReset, _) = TrainPopulation(seeds, rates, steps, stepsPerLaunch: 50, window, stopAt: window);
        var expected = Enumerable.Range(0, n).Select(k => 4f * CounterRng.Uniform(10u, CounterRng.ReinitStream, (uint)window, (uint)k) - 2f).ToArray();
        Assert.Equal(expected, pReset[n..(2 * n)]);
        Assert.All(expected, v => Assert.InRange(v, -2f, 2f));
        Assert.All(sReset[(2 * n)..(4 * n)], v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData("--reinit-every", "--unit inalu --reinit-every 15")]
    [InlineData("--saturation-start", "--unit inalu --saturation-start -1")]
    [InlineData("--inalu-recipe", "--unit inalu --inalu-recipe sometimes")]
    [InlineData("--inalu-recipe", "--unit nac --inalu-recipe none")]
    [InlineData("--saturation-start", "--unit inalu --inalu-recipe none --saturation-start 5")]
    public void BadRecipeOptionsAreUsageErrors(string option, string arguments)
    {
        var (code, _, stderr) = CliTests.RunCli(["train", "--inputs", "2", "--steps", "2", .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(option, stderr);
    }

    [Fact]
    public void TrainInalu_LogsItsRecipeAndReinitialisations()
    {
        // Seed 10 with a learning rate of 1e-12 is stuck from the start (loss ≈ 5): it is reset at step 100.
        var (code, stdout, stderr) = CliTests.RunCli("train", "--unit", "inalu", "--inputs", "2", "--hidden", "2", "--op", "mul", "--lr", "1e-12",
            "--steps", "100", "--seed", "10", "--batch", "16", "--reinit-every", "100", "--eval-samples", "100", "--device", "native", "--quiet");
        output.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        Assert.Contains("iNALU recipe: alternating updates 8 weight / 2 gate steps, saturation 0.05 from step 10000", stdout);
        Assert.Contains("Gradient clip value: 0.1; re-initialise stuck models every 100 steps", stdout);
        Assert.Contains("Re-initialised (stuck): model 0 (seed 10) at step 100", stdout);
    }

    [Fact]
    public void Checkpoints_KeepTheLayerRecipe()
    {
        string path = Path.Combine(Path.GetTempPath(), "nalu-inalu-recipe-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            var recipe = INaluRecipe.Create(alternate: true, saturation: 0.02f, saturationStart: 123, saturationLossBelow: 0.5f);
            using var device = NaluDevice.Create(DeviceKind.Native);
            using var model = new Model(device, new ModelArchitecture([LayerSpec.INalu(2, 2, recipe), LayerSpec.INalu(2, 1)]), [1]);
            Nalu.Gpu.Checkpoints.Checkpoint.Save(path, model);
            var layers = Nalu.Gpu.Checkpoints.Checkpoint.Read(path).Architecture.Layers;
            Assert.Equal(recipe, layers[0].INaluRecipe);
            Assert.True(layers[1].INaluRecipe.IsNone);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void IsStuck_FollowsSchlorsRule()
    {
        Assert.True(Trainer.IsStuck([5, 5, 5], [5, 5, 5]));             // flat, above 1
        Assert.False(Trainer.IsStuck([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])); // flat but below 1
        Assert.False(Trainer.IsStuck([10, 9, 8], [3, 3, 3]));            // still falling
        Assert.True(Trainer.IsStuck([4, 4, 4], [3, 5, 4]));              // 4 ≤ 4 + 0.82
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { ReinitializeEvery = 15 }.Validate(1));
    }
}
