using System.Text.Json.Nodes;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The training state in a checkpoint: validated on reading (null, wrong types, wrong lengths and shapes, NaN outside a
/// diverged model: one clear <see cref="CheckpointFormatException"/> line), older checkpoints still read, and a trainer
/// refuses to resume another run's state, naming what differs.
/// </summary>
public sealed class TrainingStateCheckpointTests(NativeFixture native) : IClassFixture<NativeFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-state-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ArithmeticTask Task = new(ArithmeticOp.Add, inputs: 2);

    private static readonly ModelArchitecture Arch = ModelArchitecture.Uniform(UnitKind.Nac, 2, 2, 1);

    private static TrainerOptions Options => new() { Batch = 4, EvaluateEvery = 5, ValidationSamples = 16, TestSamples = 16, EvaluationChunks = 2 };

    /// <summary>A checkpoint of 2 models after 12 steps (evaluations at 5 and 10).</summary>
    private string Saved(string name = "state.safetensors")
    {
        string path = Path.Combine(_dir, name);
        using var model = new Model(native.Device, Arch, [1, 2]);
        using var trainer = new Trainer(model, Task, Options);
        trainer.Train(12);
        trainer.SaveCheckpoint(path);
        return path;
    }

    [Fact]
    public void ACheckpointCarriesTheState_AndAPlainOneHasNone()
    {
        var contents = Checkpoint.Read(Saved());
        var state = Assert.IsType<TrainingState>(contents.Training);
        Assert.Equal(12, contents.Step);
        Assert.Equal(12, state.Step);
        Assert.Equal([5, 10], state.History.Select(e => e.Step));
        Assert.Equal(2 * 2 * Arch.ParameterCount, state.OptimizerState.Length);
        Assert.Contains(state.OptimizerState, v => v != 0f);
        Assert.Equal(TrainingStrategy.Native, state.Options.Strategy);
        Assert.Equal(4, state.Options.Batch);

        string plain = Path.Combine(_dir, "plain.safetensors");
        using var model = new Model(native.Device, Arch, [1, 2]);
        Checkpoint.Save(plain, model, Task, 3);
        Assert.Null(Checkpoint.Read(plain).Training);
        using var trainer = new Trainer(model, Task, Options);
        var e = Assert.Throws<ArgumentException>(() => trainer.Restore(plain));
        Assert.Contains("no training state", e.Message);
    }

    /// <summary>
    /// Every trainer and optimizer option goes through the file and comes back equal, so an option added later cannot be
    /// forgotten by the checkpoint silently (this fails until it is added to <c>TrainingStateFormat</c>).
    /// </summary>
    [Fact]
    public void EveryOptionRoundTrips()
    {
        var recorded = typeof(TrainingStateFormat.OptionsRecord).GetProperties().Select(p => p.Name).ToHashSet();
        Assert.All(typeof(TrainerOptions).GetProperties().Select(p => p.Name), name => Assert.Contains(name, recorded));
        var optimizer = typeof(TrainingStateFormat.OptimizerRecord).GetProperties().Select(p => p.Name).ToHashSet();
        Assert.All(typeof(OptimizerOptions).GetProperties().Select(p => p.Name), name => Assert.Contains(name, optimizer));

        var options = new TrainerOptions
        {
            Batch = 3, Optimizer = OptimizerOptions.RmsProp(0.02f, 0.9f, 1e-6f).WithClipping(0.5f, 2f), EvaluateEvery = 4,
            ValidationSamples = 9, TestSamples = 11, Strategy = TrainingStrategy.Native, ReportEvery = 2, StepsPerLaunch = 5,
            Ops = [ArithmeticOp.Add, ArithmeticOp.Sub], LearningRates = [0.01f, 0.03f], EvaluationChunks = 3, Threads = 2,
            Sampling = SamplingMode.WithReplacement, DataSeed = 17,
        };
        string path = Path.Combine(_dir, "options.safetensors");
        using (var model = new Model(native.Device, Arch, [1, 2]))
        using (var trainer = new Trainer(model, Task, options))
        {
            trainer.Train(4);
            trainer.SaveCheckpoint(path);
        }

        var saved = Checkpoint.Read(path).Training!.Options;
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(options), System.Text.Json.JsonSerializer.Serialize(saved));
    }

    public static TheoryData<string, string> OtherRuns => new()
    {
        { "batch", "batch: 4 in the checkpoint, 8 here" },
        { "lr", "learning rate: 0.001 in the checkpoint, 0.5 here" },
        { "seeds", "seeds: [1, 2] in the checkpoint, [1, 3] here" },
        { "op", "task: Add" },
        { "arch", "architecture:" },
        { "strategy", "strategy: Native in the checkpoint, Fused here" },
        { "data", "data: the arithmetic task in the checkpoint, stored data sets here" },
        { "eval", "evaluate-every: 5 in the checkpoint, 6 here" },
    };

    [Theory]
    [MemberData(nameof(OtherRuns))]
    public void ResumingAnotherRun_IsRefusedNamingTheDifference(string change, string expected)
    {
        var contents = Checkpoint.Read(Saved());
        var arch = change == "arch" ? ModelArchitecture.Uniform(UnitKind.Nac, 2, 3, 1) : Arch;
        int[] seeds = change == "seeds" ? [1, 3] : [1, 2];
        var options = change switch
        {
            "batch" => Options with { Batch = 8 },
            "lr" => Options with { Optimizer = OptimizerOptions.Adam(0.5f) },
            "strategy" => Options with { Strategy = TrainingStrategy.Fused },
            "eval" => Options with { EvaluateEvery = 6 },
            _ => Options,
        };
        using var model = new Model(native.Device, arch, seeds);
        using var data = new Dataset(native.Device, new float[] { 1, 2, 3, 4 }, 2, new float[] { 3, 7 }, 1);
        using var trainer = change switch
        {
            "op" => new Trainer(model, new ArithmeticTask(ArithmeticOp.Sub, inputs: 2), options),
            "data" => new Trainer(model, data, options),
            _ => new Trainer(model, Task, options),
        };
        var e = Assert.Throws<ArgumentException>(() => trainer.Restore(contents));
        Assert.Contains(expected, e.Message);
        Assert.Equal(0, trainer.Step);   // nothing was restored
    }

    [Fact]
    public void ResumingOnOtherData_IsRefused()
    {
        string path = Path.Combine(_dir, "data.safetensors");
        var dataArch = ModelArchitecture.Uniform(UnitKind.Nac, 2, 1);
        using (var data = new Dataset(native.Device, new float[] { 1, 2, 3, 4 }, 2, new float[] { 3, 7 }, 1))
        using (var model = new Model(native.Device, dataArch, [1]))
        using (var trainer = new Trainer(model, data, Options))
        {
            trainer.Train(3);
            trainer.SaveCheckpoint(path);
        }

        var contents = Checkpoint.Read(path);
        Assert.NotNull(contents.Training);
        using var other = new Dataset(native.Device, new float[] { 1, 2, 3, 5 }, 2, new float[] { 3, 7 }, 1);
        using var again = new Model(native.Device, dataArch, [1]);
        using var resumed = new Trainer(again, other, contents.Training.Options);
        var e = Assert.Throws<ArgumentException>(() => resumed.Restore(contents));
        Assert.Contains("training set: 2 rows", e.Message);
        using var task = new Trainer(again, Task, contents.Training.Options);
        Assert.Contains("stored data sets in the checkpoint", Assert.Throws<ArgumentException>(() => task.Restore(contents)).Message);
    }

    [Theory]
    [InlineData("null", "'training' is null")]
    [InlineData("[]", "is not a valid training-state object")]
    [InlineData("{}", "is not a valid training-state object")]
    [InlineData("\"x\"", "is not a valid training-state object")]
    [InlineData("/version:2", "version 2")]
    [InlineData("/step:11", "at step 11")]
    [InlineData("/strategy:\"auto\"", "not a resolved strategy")]
    [InlineData("/strategy:\"warp\"", "is not a valid training-state object")]
    [InlineData("/lastLosses:[1]", "'lastLosses' has 1 entries, expected 2")]
    [InlineData("/diverged:null", "is not a valid training-state object")]
    [InlineData("/diverged:[true,\"x\"]", "is not a valid training-state object")]
    [InlineData("/nonFinite:[2]", "distinct model indices in [0, 2)")]
    [InlineData("/best:[null]", "'best' has 1 entries, expected 2")]
    [InlineData("/best:[{\"step\":99,\"interpolation\":1,\"extrapolation\":1},null]", "best of model 0 is at step 99")]
    [InlineData("/best:[{\"step\":5,\"interpolation\":\"NaN\",\"extrapolation\":1},null]", "best of model 0")]
    [InlineData("/history:[null]", "history entry 0 is null")]
    [InlineData("/history:[{\"step\":10,\"interpolation\":[1,1],\"extrapolation\":[1,1]},{\"step\":5,\"interpolation\":[1,1],\"extrapolation\":[1,1]}]", "history entry 1 is at step 5")]
    [InlineData("/history:[{\"step\":5,\"interpolation\":[1],\"extrapolation\":[1,1]}]", "'history entry 0 interpolation' has 1 entries")]
    [InlineData("/options/batch:0", "options are invalid")]
    [InlineData("/options/optimizer:null", "is not a valid training-state object")]
    [InlineData("/options/optimizer/learningRate:-1", "options are invalid")]
    [InlineData("/options/ops:[\"add\"]", "options are invalid")]
    [InlineData("/data:[null,null,null]", "lacks the training set")]
    [InlineData("/extra:1", "is not a valid training-state object")]
    public void BadTrainingMetadataIsOneClearLine(string change, string expected)
    {
        var (tensors, metadata) = SafeTensorsFile.Read(Saved());
        var changed = metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        if (change.StartsWith('/'))
        {
            var root = JsonNode.Parse(changed["training"])!.AsObject();
            int colon = change.IndexOf(':');
            var keys = change[1..colon].Split('/');
            var parent = root;
            foreach (var key in keys[..^1])
                parent = parent[key]!.AsObject();
            parent[keys[^1]] = JsonNode.Parse(change[(colon + 1)..]);
            changed["training"] = root.ToJsonString();
        }
        else
        {
            changed["training"] = change;
        }

        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(Write(tensors, changed)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("System.", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Theory]
    [InlineData("training.optimizer_state", "shape", "tensor 'training.optimizer_state' has shape")]
    [InlineData("training.best_parameters", "missing", "tensor 'training.best_parameters' is missing")]
    [InlineData("training.best_parameters", "nan", "tensor 'training.best_parameters' has non-finite value NaN")]
    [InlineData("layers.0.W_hat", "nan", "tensor 'layers.0.W_hat' has non-finite value NaN")]
    [InlineData("training.other", "extra", "unexpected tensors training.other")]
    public void BadTrainingTensorsAreOneClearLine(string name, string change, string expected)
    {
        var (tensors, metadata) = SafeTensorsFile.Read(Saved());
        var list = tensors.ToList();
        int index = list.FindIndex(t => t.Name == name);
        switch (change)
        {
            case "shape":
                var t = list[index];
                list[index] = t with { Shape = [2, t.Shape[1] - 1, 2], Data = t.Data[..^4] };
                break;
            case "missing":
                list.RemoveAt(index);
                break;
            case "nan":
                var data = list[index].Data.ToArray();
                data[^1] = float.NaN;   // the last model, which the metadata does not list as diverged
                list[index] = list[index] with { Data = data };
                break;
            default:
                list.Add(new SafeTensor(name, [1], [0f]));
                break;
        }

        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(Write(list, metadata, allowNonFinite: true)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    private string Write(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string> metadata, bool allowNonFinite = false)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        SafeTensorsFile.WriteCore(path, tensors, metadata, allowNonFinite);
        return path;
    }
}
