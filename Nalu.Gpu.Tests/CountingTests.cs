using System.IO.Compression;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The per-step layer (<see cref="EachStepUnit{TInner}"/>, <see cref="LayerSpec.ForEachStep"/>) against a per-slice loop
/// over the double reference; a per-image network → recurrent head trained by every path alike; the image sequences'
/// targets; and the counting experiment's engine and command line on IDX files the tests write themselves.
/// </summary>
public sealed class CountingTests(CpuFixture cpu, NativeFixture native) : IClassFixture<CpuFixture>, IClassFixture<NativeFixture>
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void EachStepMatchesThePerSliceReference(int steps)
    {
        var inner = ReferenceLayer.Dense(3, 2, ReferenceActivation.Tanh);
        var unit = LayerSpec.ForEachStep(LayerSpec.Dense(3, 2, Activation.Tanh), steps).CreateUnit();
        Assert.Equal(3 * steps, unit.Inputs);
        Assert.Equal(2 * steps, unit.Outputs);
        Assert.Equal(inner.ParameterCount, unit.ParameterCount);
        var rng = new Random(31 + steps);
        var p = FiniteDifferences.Uniform(rng, unit.ParameterCount, -0.8, 0.8).Select(v => (double)(float)v).ToArray();
        var x = FiniteDifferences.Uniform(rng, unit.Inputs, -1.5, 1.5).Select(v => (double)(float)v).ToArray();
        var dy = FiniteDifferences.Uniform(rng, unit.Outputs, -1, 1).Select(v => (double)(float)v).ToArray();
        var (y, grad, dx) = RecurrentTests.RunUnit(unit, p, x, dy);

        // The reference: the inner layer on each slice, its parameter gradients summed over the slices.
        var expectedY = new double[unit.Outputs];
        var expectedGrad = new double[unit.ParameterCount];
        var expectedDx = new double[unit.Inputs];
        for (int t = 0; t < steps; t++)
        {
            var xt = x.AsSpan(3 * t, 3).ToArray();
            inner.Forward(p, xt, 1).CopyTo(expectedY, 2 * t);
            var (g, d) = inner.Backward(p, xt, dy.AsSpan(2 * t, 2).ToArray(), 1);
            for (int k = 0; k < g.Length; k++)
                expectedGrad[k] += g[k];
            d.CopyTo(expectedDx, 3 * t);
        }

        Tolerance.AssertClose(expectedY, y, Tolerance.Values, $"each-step T={steps} y");
        Tolerance.AssertClose(expectedGrad, grad, Tolerance.Gradients, $"each-step T={steps} ∂L/∂parameters");
        Tolerance.AssertClose(expectedDx, dx, Tolerance.Gradients, $"each-step T={steps} ∂L/∂x");
    }

    /// <summary>A per-step front end, a recurrent NAC and a NAC readout: the model the counting task trains, in small.</summary>
    internal static ModelArchitecture FrontEndModel(int steps, bool everyStep = false) => new(
    [
        LayerSpec.ForEachStep(LayerSpec.Dense(3, 4, Activation.Tanh), steps),
        LayerSpec.Recurrent(LayerSpec.Nac(4 + 2, 2), steps, everyStep),
        everyStep ? LayerSpec.ForEachStep(LayerSpec.Nac(2, 1), steps) : LayerSpec.Nac(2, 1),
    ]);

    /// <summary>
    /// The model trained for 6 Adam steps on stored sequences by the fused, group and batched kernels on the CPU
    /// accelerator and by the native path ends with the same parameters (the native path is the fused kernel's code, so
    /// bit for bit; the others within float round-off), and the parameters moved far more than that. With every step read
    /// out, the targets are the running sums.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APerStepFrontEndTrainsAlikeOnEveryPath(bool everyStep) =>
        TrainAlike(everyStep, (1e-5, 1e-4),
            [(cpu.Device, TrainingStrategy.Fused), (cpu.Device, TrainingStrategy.Group), (cpu.Device, TrainingStrategy.Batched)], native.Device);

    /// <summary>The training of <see cref="FrontEndModel"/> on each (device, strategy) against the native path, within a tolerance.</summary>
    internal static void TrainAlike(bool everyStep, (double Atol, double Rtol) tolerance, (NaluDevice Device, TrainingStrategy Strategy)[] runs, NaluDevice native)
    {
        const int steps = 3, rows = 40;
        var architecture = FrontEndModel(steps, everyStep);
        var rng = new Random(5);
        var x = Enumerable.Range(0, rows * steps * 3).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int reads = everyStep ? steps : 1;
        var y = Enumerable.Range(0, rows * reads)
            .Select(i => x.Skip(i / reads * steps * 3).Take(((everyStep ? i % reads : steps - 1) + 1) * 3).Sum()).ToArray();
        Assert.Equal(reads, architecture.Outputs);
        float[]? first = null, initial = null;
        foreach (var (device, strategy) in new[] { (native, TrainingStrategy.Native) }.Concat(runs))
        {
            using var data = new Dataset(device, x, steps * 3, y, reads);
            using var model = new Model(device, architecture, [11, 12]);
            initial ??= model.GetParameters();
            using (var trainer = new Trainer(model, data, new TrainerOptions
            {
                Batch = 8, EvaluateEvery = 0, StepsPerLaunch = 3, Optimizer = OptimizerOptions.Adam(1e-2f), Strategy = strategy, Threads = 2,
            }))
            {
                trainer.Train(6);
            }

            var trained = model.GetParameters();
            if (first is null)
            {
                first = trained;
                Assert.True(first.Zip(initial).Max(v => Math.Abs(v.First - v.Second)) > 0.03, "training moved the parameters by too little to test");
            }
            else
            {
                Tolerance.AssertClose(first.Select(v => (double)v).ToArray(), trained, tolerance, $"{strategy} on {device.Kind} against native");
                // Prediction runs the forward kernel: the last step's output, every step's with everyStep.
                var predicted = model.Predict(x.AsSpan(0, steps * 3), 1);
                Assert.Equal(2, predicted.Length);
                Assert.All(predicted, row => Assert.Equal(reads, row.Length));
                Assert.All(predicted.SelectMany(row => row), v => Assert.True(float.IsFinite(v)));
            }
        }
    }

    /// <summary>
    /// <see cref="Model.Predict"/> on the native device runs the units' forward on the host (ModelKernels.NativeForward),
    /// not the forward kernel: the same values as the kernel on the CPU accelerator, for a sequence model read at every
    /// step, a NALU stack (log and exp) and an LSTM head.
    /// </summary>
    [Fact]
    public void NativePredictionMatchesTheForwardKernel() => PredictAlike(cpu.Device, native.Device, (1e-6, 1e-5));

    /// <summary>Predictions of three architectures on <paramref name="kernel"/>'s forward kernel against the native host forward.</summary>
    internal static void PredictAlike(NaluDevice kernel, NaluDevice native, (double Atol, double Rtol) tolerance)
    {
        var architectures = new[]
        {
            FrontEndModel(4, everyStep: true),
            ModelArchitecture.Uniform(UnitKind.Nalu, 5, 3, 2),
            new ModelArchitecture([LayerSpec.Lstm(3, 4, 5), LayerSpec.Dense(4, 2, Activation.Linear)]),
        };
        var rng = new Random(17);
        foreach (var architecture in architectures)
        {
            var x = Enumerable.Range(0, 7 * architecture.Inputs).Select(_ => (float)(rng.NextDouble() * 3 - 1)).ToArray();
            using var onHost = new Model(native, architecture, [1, 2, 3]);
            using var onKernel = new Model(kernel, architecture, [1, 2, 3]);
            onKernel.SetParameters(onHost.GetParameters());
            var expected = onKernel.Predict(x, 7);
            var actual = onHost.Predict(x, 7);
            for (int p = 0; p < 3; p++)
                Tolerance.AssertClose(expected[p].Select(v => (double)v).ToArray(), actual[p], tolerance, $"{architecture} on {kernel.Kind}, model {p}");
        }
    }

    [Fact]
    public void PerStepLayersChainStretchAndSurviveACheckpoint()
    {
        var architecture = FrontEndModel(5);
        Assert.Equal(15, architecture.Inputs);
        Assert.Equal(1, architecture.Outputs);
        var longer = architecture.WithSteps(50);
        Assert.Equal(150, longer.Inputs);
        Assert.Equal(50, longer.Layers[0].EachStep);
        Assert.Equal(architecture.ParameterCount, longer.ParameterCount);

        using var model = new Model(native.Device, architecture, [3]);
        string path = Path.Combine(Path.GetTempPath(), $"nalu-eachstep-{Guid.NewGuid():N}.safetensors");
        try
        {
            Checkpoint.Save(path, model);
            using var loaded = Checkpoint.Load(path, native.Device, out _);
            Assert.Equal(architecture.ToString(), loaded.Architecture.ToString());
            Assert.Equal(5, loaded.Architecture.Layers[0].EachStep);
            Assert.Equal(model.GetParameters(), loaded.GetParameters());
        }
        finally
        {
            File.Delete(path);
        }

        // Widths that do not chain, both kinds of steps on one layer, and nonsense lengths are refused.
        var error = Assert.Throws<ArgumentException>(() => new ModelArchitecture(
            [LayerSpec.ForEachStep(LayerSpec.Dense(3, 4, Activation.Tanh), 2), LayerSpec.Recurrent(LayerSpec.Nac(4 + 2, 2), 3)]));
        Assert.Contains("8 outputs", error.Message);
        Assert.Throws<ArgumentException>(() => LayerSpec.ForEachStep(LayerSpec.Recurrent(LayerSpec.Nac(3, 2), 2), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerSpec.ForEachStep(LayerSpec.Dense(3, 4, Activation.Tanh), 0));
    }

    [Fact]
    public void SequenceTargetsCountTheClassesOrAddTheLabels()
    {
        var set = TinySet(images: 30, side: 4, seed: 2);
        var (x, counts, drawn) = ImageSequences.Draw(set, ImageSequenceTarget.Counting, sequences: 6, length: 7, seed: 9);
        var (x2, sums, drawn2) = ImageSequences.Draw(set, ImageSequenceTarget.Addition, sequences: 6, length: 7, seed: 9);
        Assert.Equal(drawn, drawn2);
        Assert.Equal(x, x2);
        Assert.Equal(6 * 7 * 16, x.Length);
        for (int s = 0; s < 6; s++)
        {
            var labels = Enumerable.Range(0, 7).Select(t => set.Labels[drawn[s * 7 + t]]).ToArray();
            for (int c = 0; c < 10; c++)
                Assert.Equal(labels.Count(l => l == c), counts[s * 10 + c]);
            Assert.Equal(labels.Sum(l => l), sums[s]);
            // Each step holds its image's pixels.
            for (int t = 0; t < 7; t++)
                Assert.Equal(set.Pixels.AsSpan(drawn[s * 7 + t] * 16, 16).ToArray(), x.AsSpan((s * 7 + t) * 16, 16).ToArray());
        }
    }

    [Fact]
    public void PoolingAveragesBlocksAndBadImageSetsAreRefused()
    {
        byte[] pixels = [0, 255, 10, 20, 255, 255, 30, 40, 1, 2, 3, 4, 5, 6, 7, 8];
        var set = ImageSet.FromBytes(pixels, 4, 4, [3], pool: 2);
        Assert.Equal(4, set.PixelsPerImage);
        Assert.Equal(765f / 4 / 255, set.Pixels[0], 5);
        Assert.Equal(100f / 4 / 255, set.Pixels[1], 5);
        Assert.Contains("does not divide", Assert.Throws<DataFileException>(() => ImageSet.FromBytes(pixels, 4, 4, [3], pool: 3)).Message);
        Assert.Contains("label 0 is 10", Assert.Throws<DataFileException>(() => ImageSet.FromBytes(pixels, 4, 4, [10])).Message);
        Assert.Contains("2 labels", Assert.Throws<DataFileException>(() => ImageSet.FromBytes(pixels, 4, 4, [1, 2])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageSequences.Draw(set, ImageSequenceTarget.Counting, 1, 0, 1));
    }

    [Fact]
    public void TheEngineTrainsEveryHeadAndScoresEveryLength()
    {
        var train = TinySet(images: 50, side: 4, seed: 1);
        var test = TinySet(images: 20, side: 4, seed: 2);
        var settings = new CountingSettings
        {
            Target = ImageSequenceTarget.Counting, Heads = ["nac", "nau", "lstm", "rnn-tanh"], Seeds = 2, Steps = 5, Batch = 4,
            TrainLength = 3, TrainSequences = 12, TestLengths = [3, 30], TestSequences = 4, Hidden = 5, RecurrentHidden = 3,
        };
        var result = CountingExperiment.Run(native.Device, settings, train, test);
        Assert.Equal(8, result.Models.Count);
        Assert.All(result.Models, m => Assert.Equal([3, 30], m.Scores.Select(s => s.Length)));
        Assert.All(result.Models.SelectMany(m => m.Scores), s => Assert.InRange(s.Accuracy, 0, 1));
        Assert.All(result.Models.SelectMany(m => m.Scores), s => Assert.True(s.Mae >= 0, $"MAE {s.Mae}"));
    }

    [Fact]
    public void TheCommandRunsOnIdxFilesAndRefusesBadInput()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"nalu-counting-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string data = Path.Combine(dir, "data");
            Directory.CreateDirectory(data);
            WriteIdxSet(data, "train", TinySet(images: 40, side: 4, seed: 1), gzip: true);
            WriteIdxSet(data, "t10k", TinySet(images: 20, side: 4, seed: 2), gzip: false);
            string outDir = Path.Combine(dir, "out");
            string[] tiny = ["--steps", "4", "--seeds", "2", "--train-sequences", "8", "--test-sequences", "3", "--train-length", "3",
                "--test-lengths", "3,12", "--hidden", "4", "--batch", "4", "--pool", "1", "--device", "native"];
            var (code, stdout, stderr) = CliTests.RunCli(["experiment", "counting", "--data", data, "--heads", "nac,lstm", .. tiny, "--out", outDir]);
            Assert.True(code == 0, stderr + stdout);
            string table = File.ReadAllText(Path.Combine(outDir, "table.md"));
            Assert.Contains("| nac | 12 |", table);
            Assert.Contains("| lstm | 3 |", table);
            Assert.Equal(1 + 2 * 2 * 2, File.ReadAllLines(Path.Combine(outDir, "table.csv")).Length);
            Assert.Contains("\"models\"", File.ReadAllText(Path.Combine(outDir, "results.json")));

            // The same files named one by one; addition.
            (code, stdout, stderr) = CliTests.RunCli(["experiment", "counting", "--task", "addition",
                "--images", $"{data}/train-images-idx3-ubyte.gz,{data}/t10k-images-idx3-ubyte",
                "--labels", $"{data}/train-labels-idx1-ubyte.gz,{data}/t10k-labels-idx1-ubyte", "--heads", "nau", .. tiny, "--out", outDir + "2"]);
            Assert.True(code == 0, stderr + stdout);

            void Refused(string expected, params string[] args)
            {
                var (c, o, e) = CliTests.RunCli(["experiment", "counting", .. tiny, "--out", Path.Combine(dir, "refused"), .. args]);
                Assert.True(c == 2, $"exit {c}: {e}{o}");
                Assert.Contains(expected, e);
                Assert.False(Directory.Exists(Path.Combine(dir, "refused")), "nothing is written for refused input");
            }

            Refused("apt-get install dataset-fashion-mnist", "--data", Path.Combine(dir, "missing"));
            Refused("counting or addition", "--data", data, "--task", "multiplication");
            Refused("--recurrent-hidden 0", "--data", data, "--recurrent-hidden", "0");
            Refused("is not one of", "--data", data, "--heads", "gru");
            Refused("same file", "--images", "a,a", "--labels", "b,c");
            // Not IDX, mismatched counts, labels past 9.
            string notIdx = Path.Combine(dir, "not-idx");
            File.WriteAllText(notIdx, "hello, world");
            Refused("not an IDX file", "--images", $"{notIdx},{data}/t10k-images-idx3-ubyte", "--labels", $"{data}/train-labels-idx1-ubyte.gz,{data}/t10k-labels-idx1-ubyte");
            Refused("labels", "--images", $"{data}/train-images-idx3-ubyte.gz,{data}/t10k-images-idx3-ubyte", "--labels", $"{data}/t10k-labels-idx1-ubyte,{data}/train-labels-idx1-ubyte.gz");
            string badLabels = Path.Combine(dir, "bad-labels");
            WriteIdx(badLabels, [0x08, 1], [20], Enumerable.Repeat((byte)12, 20).ToArray(), gzip: false);
            Refused("label 0 is 12", "--images", $"{data}/train-images-idx3-ubyte.gz,{data}/t10k-images-idx3-ubyte", "--labels", $"{data}/train-labels-idx1-ubyte.gz,{badLabels}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Images whose pixels depend on their label (so a network could tell them apart) plus noise.</summary>
    private static ImageSet TinySet(int images, int side, int seed)
    {
        var (pixels, labels) = TinyBytes(images, side, seed);
        return ImageSet.FromBytes(pixels, side, side, labels);
    }

    private static (byte[] Pixels, byte[] Labels) TinyBytes(int images, int side, int seed)
    {
        var rng = new Random(seed);
        var labels = Enumerable.Range(0, images).Select(_ => (byte)rng.Next(10)).ToArray();
        var pixels = new byte[images * side * side];
        for (int i = 0; i < images; i++)
        {
            for (int p = 0; p < side * side; p++)
                pixels[i * side * side + p] = (byte)Math.Min(255, (p % 10 == labels[i] ? 200 : 0) + rng.Next(40));
        }

        return (pixels, labels);
    }

    private static void WriteIdxSet(string folder, string prefix, ImageSet set, bool gzip)
    {
        var pixels = set.Pixels.Select(v => (byte)Math.Round(v * 255)).ToArray();
        string suffix = gzip ? ".gz" : "";
        WriteIdx(Path.Combine(folder, $"{prefix}-images-idx3-ubyte{suffix}"), [0x08, 3], [set.Count, set.Rows, set.Columns], pixels, gzip);
        WriteIdx(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte{suffix}"), [0x08, 1], [set.Count], set.Labels, gzip);
    }

    private static void WriteIdx(string path, byte[] typeAndRank, int[] shape, byte[] data, bool gzip)
    {
        using var file = File.Create(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        stream.Write([0, 0, typeAndRank[0], typeAndRank[1]]);
        foreach (int size in shape)
            stream.Write([(byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size]);
        stream.Write(data);
    }
}

/// <summary>
/// The per-step front end with a recurrent head on CUDA (skipped without a CUDA device): the fused, group and batched
/// kernels train it like the native path, and the forward kernel predicts like the host. The tolerances are the other
/// CUDA training checks' (<see cref="CudaRecurrentTrainingTests"/>): CUDA's approximate tanh/exp move float results by ≈1e-5.
/// </summary>
public sealed class CudaCountingTests(CudaFixture cuda, NativeFixture native) : IClassFixture<CudaFixture>, IClassFixture<NativeFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APerStepFrontEndTrainsOnCudaAsNatively(bool everyStep) =>
        CountingTests.TrainAlike(everyStep, (1e-4, 1e-3),
            [(cuda.Device, TrainingStrategy.Fused), (cuda.Device, TrainingStrategy.Group), (cuda.Device, TrainingStrategy.Batched)], native.Device);

    [Fact]
    public void CudaPredictionMatchesTheHost() => CountingTests.PredictAlike(cuda.Device, native.Device, (2e-3, 5e-3));
}
