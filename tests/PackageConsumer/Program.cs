// The README's "Embedding the library" example, against the Nalu.Gpu package: a NAC learns a + b on ILGPU's CPU
// accelerator; exits 1 when model 0's extrapolation MSE is not small, or a checkpoint does not round-trip.
// Smaller than the README's (2 inputs, not 100; lr 0.05; 400 steps) so that it learns in a few seconds: with 100
// inputs a NAC needs thousands of steps to find its two subsets (after 400 its extrapolation MSE is still about 60).
using System.Diagnostics;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

const int Steps = 400;
const double MaxExtrapolationMse = 1e-2;
var clock = Stopwatch.StartNew();

using var device = NaluDevice.Create(DeviceKind.Cpu);
var architecture = ModelArchitecture.Uniform(UnitKind.Nac, 2, 2, 1);
using var model = new Model(device, architecture, seeds: [1, 2, 3, 4]);   // 4 models trained at once
var task = new ArithmeticTask(ArithmeticOp.Add, inputs: 2);  // a + b, U[1,2] → U[2,6]
var options = new TrainerOptions { Optimizer = OptimizerOptions.Adam(0.05f), EvaluateEvery = 100 };
using var trainer = new Trainer(model, task, options);
trainer.Train(Steps, p =>
{
    if (p.Evaluation is { } e)
        Console.WriteLine($"step {p.Step}: extrapolation MSE of model 0 = {e.Extrapolation[0]:G3}");
});
Evaluation scores = trainer.Evaluate();                     // per-model interpolation / extrapolation MSE

string file = Path.Combine(Path.GetTempPath(), $"nalu-package-consumer-{Environment.ProcessId}.safetensors");
float[][] y, yLoaded;
try
{
    Checkpoint.Save(file, model, task, trainer.Step);
    y = model.Predict(Enumerable.Repeat(3f, 2).ToArray(), samples: 1);  // one row; y[p] per model
    using var loadedModel = Checkpoint.Load(file, device, out var contents);
    if (contents.Step != Steps)
        throw new InvalidDataException($"checkpoint step {contents.Step}, expected {Steps}");
    yLoaded = loadedModel.Predict(Enumerable.Repeat(3f, 2).ToArray(), samples: 1);
}
finally
{
    File.Delete(file);
}

Console.WriteLine($"{device} | {Steps} steps in {clock.Elapsed.TotalSeconds:F1} s");
for (int p = 0; p < scores.Extrapolation.Length; p++)
    Console.WriteLine($"model {p}: interpolation MSE {scores.Interpolation[p]:G3}, extrapolation MSE {scores.Extrapolation[p]:G3}, y(3, 3) = {y[p][0]:G6}");

bool ok = true;
if (!(scores.Extrapolation[0] < MaxExtrapolationMse))
{
    Console.Error.WriteLine($"FAIL: extrapolation MSE of model 0 is {scores.Extrapolation[0]:G3}, not below {MaxExtrapolationMse:G3}");
    ok = false;
}

if (!y.Zip(yLoaded).All(pair => pair.First.SequenceEqual(pair.Second)))
{
    Console.Error.WriteLine("FAIL: the reloaded checkpoint predicts differently");
    ok = false;
}

// The arithmetic sweep's engine from code (README, "The arithmetic benchmark"): a tiny grid, checked for its row.
var sweep = new ArithmeticSettings
{
    Units = [ArithmeticUnit.Parse("nac")], Ops = [ArithmeticOp.Add], Seeds = 2, Steps = 300, EvalEvery = 100,
    Inputs = 2, SubsetSize = 1, SubsetGap = 1, EvalSamples = 500, ThresholdSamples = 10_000,
};
var records = new List<ModelRecord>();
ArithmeticExperiment.Run(device, sweep, ArithmeticExperiment.Grid(sweep), records.AddRange);
var rows = ArithmeticTable.Rows(records);
Console.WriteLine(ArithmeticTable.Markdown(rows));
if (records.Count != 2 || rows.Count != 1)
{
    Console.Error.WriteLine($"FAIL: the sweep gave {records.Count} records and {rows.Count} rows, expected 2 and 1");
    ok = false;
}

Console.WriteLine(ok ? "package consumer: OK" : "package consumer: FAILED");
return ok ? 0 : 1;
