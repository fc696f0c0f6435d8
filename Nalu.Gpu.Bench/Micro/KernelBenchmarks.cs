using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Bench.Micro;

/// <summary>
/// One launch of each kernel for the reference model (NALU 100→2→1, batch 128), on the device named by the
/// NALU_BENCH_DEVICE environment variable (default: auto). Each benchmark launches and synchronises; kernels are
/// compiled in the global setup, never in a timed region.
/// </summary>
[MemoryDiagnoser(false)]
public class KernelBenchmarks
{
    private const int Batch = 128;
    private NaluDevice _device = null!;
    private Model _model = null!;
    private Trainer _fused = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> _x = null!, _y = null!, _dy = null!, _saved = null!, _partials = null!, _targets = null!, _state = null!, _ones = null!;
    private UnitBuffers _buffers;
    private BatchShape _shape;
    private OptimizerBuffers _optimizer;
    private OptimizerSettings _settings;

    [GlobalSetup]
    public void Setup()
    {
        var kind = Enum.TryParse<DeviceKind>(Environment.GetEnvironmentVariable("NALU_BENCH_DEVICE"), true, out var k) ? k : DeviceKind.Auto;
        _device = NaluDevice.Create(kind);
        _model = new Model(_device, ModelArchitecture.Uniform(UnitKind.Nalu, 100, 2, 1), 0);
        _fused = new Trainer(_model, new ArithmeticTask(ArithmeticOp.Mul), new TrainerOptions { EvaluateEvery = 0, StepsPerLaunch = 1, Strategy = TrainingStrategy.Fused });
        var a = _device.Accelerator;
        int n = _model.ParameterCount;
        _shape = new BatchShape { Models = 1, Batch = Batch, Chunks = 2 };
        _x = Zeroed(a, Batch * 100);
        _y = Zeroed(a, Batch);
        _dy = Zeroed(a, Batch);
        _targets = Zeroed(a, Batch);
        _saved = Zeroed(a, Batch * _model.Kernels.SavedCount);
        _partials = Zeroed(a, _shape.Chunks * n);
        _state = Zeroed(a, 2 * n);
        _ones = a.Allocate1D(new[] { 1f });
        _buffers = new UnitBuffers
        {
            Parameters = _model.Parameters, Cache = _model.Cache, Gradients = _model.Gradients, Partials = _partials.View,
            X = _x.View, Y = _y.View, Saved = _saved.View, Dy = _dy.View, Dx = _x.View,
        };
        _settings = OptimizerOptions.Adam().ToSettings();
        _optimizer = new OptimizerBuffers
        {
            Parameters = _model.Parameters, Gradients = _model.Gradients, State = _state.View, LearningRates = _ones.View, NormScales = _ones.View,
        };
        // Compile everything once, outside the timed regions.
        Prepare();
        Generate();
        Forward();
        Backward();
        Adam();
        FusedStep();
    }

    private static MemoryBuffer1D<float, Stride1D.Dense> Zeroed(Accelerator a, int length)
    {
        var buffer = a.Allocate1D<float>(length);
        buffer.MemSetToZero();
        return buffer;
    }

    /// <summary>W = tanh(Ŵ)·σ(M̂) for both layers: 202 elements.</summary>
    [Benchmark]
    public void Prepare()
    {
        _model.Kernels.PrepareCache(_shape, _buffers);
        _device.Accelerator.Synchronize();
    }

    /// <summary>128 samples of the 100-input task: 12,800 uniform draws.</summary>
    [Benchmark]
    public void Generate()
    {
        var ops = _device.Accelerator.Allocate1D(new[] { (int)ArithmeticOp.Mul });
        var seeds = _device.Accelerator.Allocate1D(new[] { 0 });
        CommonKernels.For(_device).Generate(new ArithmeticSource(100, 25, 13, (int)CounterRng.TrainStream, new SampleRange(1, 2, 2, 2)),
            new DataShape { Models = 1, Batch = Batch, Inputs = 100, Outputs = 1, Step = 0 }, seeds.View, ops.View, _x.View, _targets.View);
        _device.Accelerator.Synchronize();
        ops.Dispose();
        seeds.Dispose();
    }

    /// <summary>Forward of 128 samples (a, m, g, y per output; saves for the backward).</summary>
    [Benchmark]
    public void Forward()
    {
        _model.Kernels.Forward(_shape, _buffers);
        _device.Accelerator.Synchronize();
    }

    /// <summary>Backward of 128 samples into 2 chunk partials, their reduction and the chain through tanh·σ.</summary>
    [Benchmark]
    public void Backward()
    {
        _model.Kernels.Backward(_shape, _buffers);
        _model.Kernels.ReduceGradients(_shape, _buffers);
        _model.Kernels.FinishGradients(_shape, _buffers);
        _device.Accelerator.Synchronize();
    }

    /// <summary>One Adam update of the model's 606 parameters.</summary>
    [Benchmark]
    public void Adam()
    {
        CommonKernels.For(_device).Update(1, _model.ParameterCount, 0, _settings, _optimizer);
        _device.Accelerator.Synchronize();
    }

    /// <summary>One whole fused training step (generate, forward, loss, backward, Adam) in one launch.</summary>
    [Benchmark]
    public void FusedStep()
    {
        _fused.Train(1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var b in new[] { _x, _y, _dy, _saved, _partials, _targets, _state, _ones })
            b.Dispose();
        _fused.Dispose();
        _model.Dispose();
        _device.Dispose();
    }
}
