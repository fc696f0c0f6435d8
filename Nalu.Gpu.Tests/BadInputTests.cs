using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Bad input gives a clear exception that names the problem, never a crash, a hang or a silent NaN:
/// shape mismatches, NaN/Inf in data, wrong checkpoints, absent devices and invalid options.
/// </summary>
public sealed class BadInputTests(CpuFixture fixture) : IClassFixture<CpuFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-badinput-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private NaluDevice Device => fixture.Device;

    private static ModelArchitecture TwoInputNac() => ModelArchitecture.Uniform(UnitKind.Nac, 2, 1);

    // ---- shape mismatches ----

    [Fact]
    public void ArchitectureWhoseWidthsDoNotChainIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new ModelArchitecture([LayerSpec.Nalu(4, 3), LayerSpec.Nalu(2, 1)]));
        Assert.Contains("3 outputs", e.Message);
        Assert.Contains("2 inputs", e.Message);
        Assert.Contains("Layer 0", e.Message);
    }

    [Fact]
    public void EmptyArchitectureAndZeroWidthAreRejected()
    {
        Assert.Contains("at least one layer", Assert.Throws<ArgumentException>(() => new ModelArchitecture([])).Message);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ModelArchitecture([LayerSpec.Nac(0, 1)]));
        Assert.Equal("Inputs", e.ParamName);
    }

    [Fact]
    public void ForwardWithWrongShapedTensorNamesBothShapes()
    {
        using var model = new Model(Device, TwoInputNac(), 1);
        using var x = DeviceTensor.Zeros(Device, 4, 3);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x));
        Assert.Contains("[4, 3]", e.Message);
        Assert.Contains("2 inputs", e.Message);
        Assert.Contains("[B, 2]", e.Message);

        // A population of 2 needs a leading dimension of 2.
        using var population = new Model(Device, TwoInputNac(), [1, 2]);
        using var x3 = DeviceTensor.Zeros(Device, 3, 5, 2);
        var e3 = Assert.Throws<ArgumentException>(() => population.Forward(x3));
        Assert.Contains("[3, 5, 2]", e3.Message);
        Assert.Contains("[2, B, 2]", e3.Message);
    }

    [Fact]
    public void FromArrayWithWrongLengthNamesTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceTensor.FromArray(Device, new float[5], 2, 3));
        Assert.Contains("5 values", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }

    [Fact]
    public void SetParametersWithWrongLengthSaysWhatItExpected()
    {
        using var model = new Model(Device, TwoInputNac(), [1, 2]); // 2 models × 4 parameters
        var e = Assert.Throws<ArgumentException>(() => model.SetParameters(new float[7]));
        Assert.Contains("Expected 8", e.Message);
        Assert.Contains("got 7", e.Message);
        var one = Assert.Throws<ArgumentException>(() => model.SetParameters(new float[8], model: 0));
        Assert.Contains("Expected 4", one.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.SetParameters(new float[4], model: 2));
    }

    [Fact]
    public void PredictWithWrongRowWidthIsRejected()
    {
        using var model = new Model(Device, TwoInputNac(), 1);
        var e = Assert.Throws<ArgumentException>(() => model.Predict(new float[5], 2));
        Assert.Contains("2 rows of 2 inputs", e.Message);
    }

    [Fact]
    public void TrainerWithTaskOfOtherInputWidthIsRejected()
    {
        using var model = new Model(Device, TwoInputNac(), 1);
        var task = new ArithmeticTask(ArithmeticOp.Add, 100);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, task));
        Assert.Contains("2 inputs", e.Message);
        Assert.Contains("100", e.Message);
    }

    [Fact]
    public void TrainerWithSeveralOutputsIsRejected()
    {
        using var model = new Model(Device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 3), 1);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, ArithmeticTask.TwoInput(ArithmeticOp.Add)));
        Assert.Contains("3 outputs", e.Message);
    }

    // ---- NaN / Inf in data ----

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteDataIsRejectedWithItsIndex(float bad)
    {
        var data = new float[] { 1f, 2f, bad, 4f };
        var e = Assert.Throws<ArgumentException>(() => DeviceTensor.FromArray(Device, data, 2, 2));
        Assert.Contains("index 2", e.Message);
        Assert.Contains("finite", e.Message);

        using var model = new Model(Device, TwoInputNac(), 1);
        var predict = Assert.Throws<ArgumentException>(() => model.Predict(data, 2));
        Assert.Contains("inputs contains", predict.Message);
        Assert.Contains("index 2", predict.Message);

        var before = model.GetParameters();
        var set = Assert.Throws<ArgumentException>(() => model.SetParameters(data));
        Assert.Contains("parameters contains", set.Message);
        Assert.Equal(before, model.GetParameters()); // nothing was uploaded
    }

    // ---- wrong checkpoints ----

    private string PathFor(string name) => Path.Combine(_dir, name);

    private string SaveCheckpoint(string name)
    {
        using var model = new Model(Device, ModelArchitecture.Uniform(UnitKind.Nalu, 2, 1), 3);
        string path = PathFor(name);
        Checkpoint.Save(path, model, ArithmeticTask.TwoInput(ArithmeticOp.Mul), step: 5);
        return path;
    }

    [Fact]
    public void MissingCheckpointFileIsNamed()
    {
        string path = PathFor("missing.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void TruncatedCheckpointIsReportedAsTruncated()
    {
        string path = SaveCheckpoint("truncated.safetensors");
        Assert.Equal(3 * 2, Checkpoint.Read(path).Parameters.Length); // valid before truncation
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]); // cut into the last tensor
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);

        File.WriteAllBytes(path, bytes[..5]); // not even the length prefix
        var tiny = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains("5 bytes", tiny.Message);
    }

    [Fact]
    public void SafetensorsFileThatIsNotANaluCheckpointIsRejected()
    {
        string path = PathFor("foreign.safetensors");
        SafeTensorsFile.Write(path, [new SafeTensor("weight", [2, 2], [1f, 2f, 3f, 4f])]);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains("not a Nalu.Gpu checkpoint", e.Message);
        Assert.Contains("format", e.Message);

        SafeTensorsFile.Write(path, [new SafeTensor("weight", [2, 2], [1f, 2f, 3f, 4f])],
            new Dictionary<string, string> { ["format"] = "pt" });
        var other = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains("'pt'", other.Message);
        Assert.Contains(Checkpoint.Format, other.Message);
    }

    [Fact]
    public void CheckpointWithTensorOfWrongShapeNamesTensorAndShapes()
    {
        string path = SaveCheckpoint("shape.safetensors");
        var (tensors, metadata) = SafeTensorsFile.Read(path);
        // NALU 2→1: every matrix is (1, 2); store G transposed as (2, 1).
        var changed = tensors.Select(t => t.Name == "layers.0.G" ? t with { Shape = [2, 1] } : t).ToArray();
        SafeTensorsFile.Write(path, changed, metadata);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains("layers.0.G", e.Message);
        Assert.Contains("[2, 1]", e.Message);
        Assert.Contains("expected [1, 2]", e.Message);
    }

    [Fact]
    public void CheckpointWithMissingTensorIsRejected()
    {
        string path = SaveCheckpoint("missing-tensor.safetensors");
        var (tensors, metadata) = SafeTensorsFile.Read(path);
        SafeTensorsFile.Write(path, tensors.Where(t => t.Name != "layers.0.M_hat").ToArray(), metadata);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains("layers.0.M_hat", e.Message);
        Assert.Contains("missing", e.Message);
    }

    // ---- absent devices ----

    [Fact]
    public void AbsentCudaDeviceThrowsDeviceUnavailable()
    {
        Assert.SkipWhen(NaluDevice.List().Any(d => d.Kind == DeviceKind.Cuda), "A CUDA device is present.");
        var e = Assert.Throws<DeviceUnavailableException>(() => NaluDevice.Create(DeviceKind.Cuda));
        Assert.Contains("CUDA", e.Message);
    }

    [Fact]
    public void AbsentOpenCLDeviceThrowsDeviceUnavailable()
    {
        Assert.SkipWhen(NaluDevice.List().Any(d => d.Kind == DeviceKind.OpenCL && d.Usable), "A usable OpenCL device is present.");
        var e = Assert.Throws<DeviceUnavailableException>(() => NaluDevice.Create(DeviceKind.OpenCL));
        Assert.Contains("OpenCL", e.Message);
    }

    [Fact]
    public void CpuDeviceIndexOutOfRangeThrowsDeviceUnavailable()
    {
        var e = Assert.Throws<DeviceUnavailableException>(() => NaluDevice.Create(DeviceKind.Cpu, 7));
        Assert.Contains("number 7", e.Message);
    }

    // ---- invalid options ----

    [Theory]
    [InlineData(0f)]
    [InlineData(-1e-3f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonPositiveOrNonFiniteLearningRateIsRejected(float lr)
    {
        var adam = Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.Adam(lr));
        Assert.Equal("learningRate", adam.ParamName);
        Assert.Contains("positive", adam.Message);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.Sgd(lr)).ParamName);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.RmsProp(lr)).ParamName);
    }

    [Fact]
    public void OtherOptimizerHyperParametersAreValidated()
    {
        Assert.Equal("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.Adam(beta1: 1f)).ParamName);
        Assert.Equal("beta2", Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.Adam(beta2: float.NaN)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.Adam(epsilon: 0f)).ParamName);
        Assert.Equal("clipNorm", Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOptions.Adam().WithClipping(0f, -1f)).ParamName);
        Assert.Equal("kind", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new OptimizerOptions((OptimizerKind)7, 1e-3f, 0.9f, 0.999f, 1e-8f)).ParamName);
    }

    [Fact]
    public void OptimizerOptionsMadeInvalidWithAWithExpressionAreRejectedByTheTrainer()
    {
        // `with` runs the init accessors, not the validating constructor, so the trainer validates again.
        using var model = new Model(Device, TwoInputNac(), 1);
        var options = new TrainerOptions { Optimizer = OptimizerOptions.Adam() with { LearningRate = float.NaN } };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(model, ArithmeticTask.TwoInput(ArithmeticOp.Add), options));
        Assert.Equal("learningRate", e.ParamName);
    }

    [Fact]
    public void InvalidTrainerOptionsAreRejected()
    {
        using var model = new Model(Device, TwoInputNac(), [1, 2]);
        var task = ArithmeticTask.TwoInput(ArithmeticOp.Add);
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(model, task, new TrainerOptions { Batch = 0 }));
        Assert.Equal("Batch", batch.ParamName);
        Assert.Contains("0", batch.Message);

        var rates = Assert.Throws<ArgumentException>(() => new Trainer(model, task, new TrainerOptions { LearningRates = [1e-3f] }));
        Assert.Contains("1 entries for 2 models", rates.Message);
        var nanRate = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new Trainer(model, task, new TrainerOptions { LearningRates = [1e-3f, float.NaN] }));
        Assert.Equal("LearningRates", nanRate.ParamName);
        Assert.Equal("StepsPerLaunch", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new Trainer(model, task, new TrainerOptions { StepsPerLaunch = 0 })).ParamName);
    }

    [Theory]
    [InlineData("2:1", "low < high")]
    [InlineData("1:1", "low < high")]
    [InlineData("abc", "'abc'")]
    [InlineData("1:2:3", "not 'lo:hi'")]
    [InlineData("1:nan", "low < high")]
    [InlineData("1:3,2:4", "disjoint")]
    [InlineData("1:2,3:4,5:6", "must be 'lo:hi' or 'lo:hi,lo:hi'")]
    public void InvalidIntervalTextIsRejected(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => SampleInterval.Parse(text));
        Assert.Contains(expected, e.Message);
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void SqrtOnANegativeRangeIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new ArithmeticTask(ArithmeticOp.Sqrt, 2, new SampleInterval(-1f, 1f), new SampleInterval(1f, 4f)));
        Assert.Contains("sqrt", e.Message);
        Assert.Contains("interpolation", e.Message);
        Assert.Contains("negative", e.Message);

        var extrapolation = Assert.Throws<ArgumentException>(() =>
            new ArithmeticTask(ArithmeticOp.Sqrt, 2, new SampleInterval(1f, 2f), new SampleInterval(-6f, -2f, 2f, 6f)));
        Assert.Contains("extrapolation", extrapolation.Message);

        // The same op on a non-negative range is fine.
        _ = new ArithmeticTask(ArithmeticOp.Sqrt, 2, new SampleInterval(0f, 1f), new SampleInterval(1f, 4f));
    }

    [Fact]
    public void TaskWhoseSubsetsDoNotFitIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ArithmeticTask(ArithmeticOp.Add, 30, subsetSize: 25, subsetGap: 13));
        Assert.Contains("38 inputs", e.Message);
    }

    [Theory]
    [InlineData(3, 1, 1)]
    [InlineData(4, 1, 1)]
    [InlineData(10, 3, 2)]
    [InlineData(30, 8, 4)]
    [InlineData(100, 25, 13)]
    public void TaskSubsetDefaultsFollowTheInputCount(int inputs, int size, int gap)
    {
        var task = new ArithmeticTask(ArithmeticOp.Add, inputs);
        Assert.Equal((size, gap), (task.SubsetSize, task.SubsetGap));
    }
}
