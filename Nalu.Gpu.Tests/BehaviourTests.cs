using Nalu.Gpu.Bench.Experiments;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>Behaviour on ILGPU's CPU accelerator (the fused kernel).</summary>
public sealed class CpuBehaviourTests(CpuFixture fixture, ITestOutputHelper output) : BehaviourTests(fixture, output), IClassFixture<CpuFixture>;

/// <summary>Behaviour on CUDA (skipped without a CUDA device; the same bounds, which have ≥ 5× margins).</summary>
public sealed class CudaBehaviourTests(CudaFixture fixture, ITestOutputHelper output) : BehaviourTests(fixture, output), IClassFixture<CudaFixture>;

/// <summary>
/// Training really learns. Bounds come from measurements over the same 8 seeds (0–7) on the CPU accelerator,
/// with a safety margin noted beside each; they are not hopes. (On CUDA they are not measured yet.)
/// </summary>
public abstract class BehaviourTests(DeviceFixture fixture, ITestOutputHelper output)
{
    private static readonly int[] Seeds = [0, 1, 2, 3, 4, 5, 6, 7];

    private Evaluation Train(ModelArchitecture architecture, ArithmeticOp op, float lr, int steps)
    {
        using var model = new Model(fixture.Device, architecture, Seeds);
        using var trainer = new Trainer(model, ArithmeticTask.TwoInput(op), new TrainerOptions
        {
            Optimizer = OptimizerOptions.Adam(lr), EvaluateEvery = 0, ValidationSamples = 1000, TestSamples = 1000,
            EvaluationChunks = 8, // fixed, so the evaluation sums do not depend on the machine's core count
        });
        trainer.Train(steps);
        var result = trainer.Evaluate();
        output.WriteLine($"{architecture.ShortName} {op}: interpolation [{string.Join(", ", result.Interpolation.Select(v => v.ToString("G3")))}]");
        output.WriteLine($"{architecture.ShortName} {op}: extrapolation [{string.Join(", ", result.Extrapolation.Select(v => v.ToString("G3")))}]");
        return result;
    }

    [Fact]
    public void NacLearnsAdditionAndExtrapolates()
    {
        // Measured (1,000 steps, lr 0.05, seeds 0–7, CPU accelerator, re-measured after fixed 16-sample slices):
        // interpolation MSE 0.0018–0.0063 (bound 0.05: ≥ 7×), extrapolation 0.013–0.046 on U[2,6] (targets 4–12;
        // bound 0.2: ≥ 4×).
        var result = Train(ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), ArithmeticOp.Add, 0.05f, 1000);
        for (int m = 0; m < Seeds.Length; m++)
        {
            Assert.True(result.Interpolation[m] < 0.05, $"seed {Seeds[m]}: interpolation MSE {result.Interpolation[m]}");
            Assert.True(result.Extrapolation[m] < 0.2, $"seed {Seeds[m]}: extrapolation MSE {result.Extrapolation[m]}");
        }
    }

    [Fact]
    public void NmuLearnsMultiplicationAndExtrapolates()
    {
        // NMU 2→1 on a × b, inputs U[1,2], tested on U[2,6] (targets 4–36), no regulariser, Adam lr 0.05.
        // Measured (seeds 0–7, 500 steps, CPU accelerator): interpolation MSE 1.7e-14–2.0e-14, extrapolation MSE
        // 2.9e-13–3.6e-13 (float round-off: W sits at (1, 1)). Bounds 1e-6 and 1e-4: ≥ 10⁸× margin.
        var result = Train(new ModelArchitecture([LayerSpec.Nmu(2, 1)]), ArithmeticOp.Mul, 0.05f, 500);
        for (int m = 0; m < Seeds.Length; m++)
        {
            Assert.True(result.Interpolation[m] < 1e-6, $"seed {Seeds[m]}: interpolation MSE {result.Interpolation[m]}");
            Assert.True(result.Extrapolation[m] < 1e-4, $"seed {Seeds[m]}: extrapolation MSE {result.Extrapolation[m]}");
        }
    }

    [Fact]
    public void NmuAskedForDivisionFailsHonestly()
    {
        // An NMU cannot divide (its factors are W·x + 1 − W with W ∈ [0, 1]): training must run to the end with finite
        // numbers and report a poor fit, not crash or stop on NaN. Measured (seeds 0–7, 500 steps, lr 0.05, the NMU model's
        // regulariser, which does not start within 500 steps): interpolation MSE 0.067–0.072, extrapolation MSE 0.32–0.61.
        // Bound: interpolation MSE > 0.01 (≥ 6× margin below the measured minimum).
        var result = Train(new ModelArchitecture([LayerSpec.Nmu(2, 1, ModelPresets.NmuDefault)]), ArithmeticOp.Div, 0.05f, 500);
        for (int m = 0; m < Seeds.Length; m++)
        {
            Assert.True(double.IsFinite(result.Interpolation[m]) && double.IsFinite(result.Extrapolation[m]), $"seed {Seeds[m]}: non-finite MSE");
            Assert.True(result.Interpolation[m] > 0.01, $"seed {Seeds[m]}: an NMU cannot fit a ÷ b, yet interpolation MSE is {result.Interpolation[m]}");
        }
    }

    /// <summary>
    /// The 10-input --quick task of <c>experiment arithmetic</c> (subsets of 3, no overlap) with the nau-nmu preset on
    /// a × b, its λ̂ lowered to 0.1 and the warm-up scaled by 0.005 (5000 → 10000 steps), Adam lr 0.01, native device.
    /// Measured with 20,000 steps: seeds 0–9 10/10 (first success at steps 9750–12500); with 14,000 steps (this test,
    /// about 6 s on 2 cores) the same 10/10 with extrapolation MSE 7.7e-8–7.2e-7 against a threshold of 1.6e-5.
    /// The test asks for 7/10. (With the paper's λ̂ = 10 scaled the same way, 0/10 within 20,000 steps.)
    /// </summary>
    [Fact]
    public void NauNmuStackSolvesMultiplicationOnTheQuickTask()
    {
        var unit = ArithmeticUnit.Parse("nau-nmu").WithOverrides(new RegularizerOverrides { Lambda = 0.1f, ScheduleScale = 0.005 });
        var settings = new ArithmeticSettings
        {
            Units = [unit], Ops = [ArithmeticOp.Mul], Seeds = 10, Steps = 14_000, LearningRate = 0.01f, EvalEvery = 250,
            EvalSamples = 1000, ThresholdSamples = 100_000, Inputs = 10, SubsetSize = 3, SubsetGap = 3, Strategy = TrainingStrategy.Native,
        };
        using var device = NaluDevice.Create(DeviceKind.Native);
        var records = new List<ModelRecord>();
        ArithmeticExperiment.Run(device, settings, ArithmeticExperiment.Grid(settings), records.AddRange);
        foreach (var r in records)
            output.WriteLine($"seed {r.Seed}: success {r.Success}, extrapolation MSE {r.ExtrapolationMse:G3} (threshold {r.Threshold:G3}), first success {r.FirstSuccessStep}");
        Assert.Equal(10, records.Count);
        Assert.All(records, r => Assert.False(r.Diverged, $"seed {r.Seed} diverged"));
        int successes = records.Count(r => r.Success);
        Assert.True(successes >= 7, $"{successes}/10 seeds solved a × b");
    }

    [Fact]
    public void NaluLearnsMultiplicationAndExtrapolatesFarBetterThanReluMlp()
    {
        // Measured (2,000 steps, lr 0.05, same data and optimizer, seeds 0–7, CPU accelerator, re-measured after fixed
        // 16-sample slices): NALU 2→1 extrapolation MSE 0.12–0.56 (bound 2: ≥ 3.5×); ReLU MLP 2→8→8→1 45–87 (bound 10:
        // ≥ 4.5×) although it fits the training range (interpolation 0.0003–0.0081, bound 0.05: ≥ 6×). Medians 0.26 and
        // 58: a ratio of 220 against the 50 asserted.
        var nalu = Train(ModelArchitecture.Uniform(UnitKind.Nalu, 2, 1), ArithmeticOp.Mul, 0.05f, 2000);
        var mlp = Train(ModelArchitecture.Uniform(UnitKind.Dense, Activation.Relu, 2, 8, 8, 1), ArithmeticOp.Mul, 0.05f, 2000);
        for (int m = 0; m < Seeds.Length; m++)
        {
            Assert.True(nalu.Extrapolation[m] < 2.0, $"seed {Seeds[m]}: NALU extrapolation MSE {nalu.Extrapolation[m]}");
            Assert.True(mlp.Interpolation[m] < 0.05, $"seed {Seeds[m]}: MLP interpolation MSE {mlp.Interpolation[m]} (it should fit the training range)");
            Assert.True(mlp.Extrapolation[m] > 10.0, $"seed {Seeds[m]}: MLP extrapolation MSE {mlp.Extrapolation[m]}");
        }

        double Median(double[] v) => v.Order().ElementAt(v.Length / 2);
        Assert.True(Median(nalu.Extrapolation) * 50 < Median(mlp.Extrapolation),
            $"median extrapolation MSE: NALU {Median(nalu.Extrapolation)}, MLP {Median(mlp.Extrapolation)}");
    }
}
