using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>The README's embedding example, verbatim apart from the device, the step count and the file path, so the README stays true.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void EmbeddingExampleRunsAndLearnsAddition()
    {
        string path = Path.Combine(Path.GetTempPath(), $"readme-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var device = NaluDevice.Create(DeviceKind.Cpu);
            var architecture = ModelArchitecture.Uniform(UnitKind.Nac, 100, 2, 1);
            using var model = new Model(device, architecture, seeds: [1, 2, 3, 4]);
            var task = new ArithmeticTask(ArithmeticOp.Add);
            var options = new TrainerOptions { Optimizer = OptimizerOptions.Adam(1e-2f), EvaluateEvery = 500, ValidationSamples = 1000, TestSamples = 1000 };
            using var trainer = new Trainer(model, task, options);
            var untrained = trainer.Evaluate();
            var lines = new List<string>();
            trainer.Train(2_000, p =>
            {
                if (p.Evaluation is { } e)
                    lines.Add($"step {p.Step}: extrapolation MSE of model 0 = {e.Extrapolation[0]:G3}");
            });
            Evaluation scores = trainer.Evaluate();
            Checkpoint.Save(path, model, task, trainer.Step);
            float[][] y = model.Predict(Enumerable.Repeat(3f, 100).ToArray(), samples: 1);

            Assert.Equal(4, lines.Count);
            Assert.Equal(6, trainer.History.Count);
            Assert.Equal(4, y.Length);
            // a + b with every input 3: each subset sums to 75, so the target is 150.
            Assert.All(y, v => Assert.InRange(v[0], 140f, 160f));
            // After 2,000 steps the extrapolation MSE was 30–60 here (targets near 200): demand a 100× improvement.
            for (int m = 0; m < 4; m++)
                Assert.True(scores.Extrapolation[m] < untrained.Extrapolation[m] / 100, $"model {m}: {untrained.Extrapolation[m]} → {scores.Extrapolation[m]}");
            Assert.True(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
