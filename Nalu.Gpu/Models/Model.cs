using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels.Launch;

namespace Nalu.Gpu.Models;

/// <summary>
/// P independent models of one architecture on one device (P = 1 for a single model), each with its
/// own seed. Parameters of all models live in one flat device buffer, model after model, each laid out
/// layer after layer in the order of <see cref="LayerSpec.Tensors"/>, so one optimizer launch updates all.
/// </summary>
public sealed class Model : IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _parameters, _gradients, _cache;
    private bool _disposed;

    /// <summary>One model initialised from <paramref name="seed"/>.</summary>
    public Model(NaluDevice device, ModelArchitecture architecture, int seed) : this(device, architecture, [seed]) { }

    /// <summary>One model per seed, each initialised from its seed.</summary>
    public Model(NaluDevice device, ModelArchitecture architecture, IReadOnlyList<int> seeds)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0)
            throw new ArgumentException("Give at least one seed (one per model).", nameof(seeds));
        if ((long)seeds.Count * architecture.ParameterCount * 2 > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(seeds), $"{seeds.Count} models of {architecture.ParameterCount} parameters exceed 32-bit indexing.");

        // Parameters, gradients and cache, plus the trainer's two optimizer moments: what a training run needs at least.
        device.EnsureFits(4.0 * seeds.Count * (5.0 * architecture.ParameterCount + architecture.Unit.CacheCount),
            $"{seeds.Count} model(s) of {architecture.ParameterCount} parameters");
        Device = device;
        Architecture = architecture;
        Seeds = seeds.ToArray();
        Kernels = ModelKernels.Create(device, architecture.Unit);
        int n = ParameterCount;
        _parameters = device.Accelerator.Allocate1D<float>((long)Count * n);
        _gradients = device.Accelerator.Allocate1D<float>((long)Count * n);
        _cache = device.Accelerator.Allocate1D<float>(Math.Max(1L, (long)Count * Kernels.CacheCount));
        _gradients.MemSetToZero();
        _cache.MemSetToZero();

        var initial = new float[Count * n];
        for (int p = 0; p < Count; p++)
            architecture.Initialize(Seeds[p]).CopyTo(initial, p * n);
        _parameters.View.CopyFromCPU(initial);
    }

    /// <summary>The device the model lives on.</summary>
    public NaluDevice Device { get; }

    /// <summary>The layers.</summary>
    public ModelArchitecture Architecture { get; }

    /// <summary>One seed per model.</summary>
    public IReadOnlyList<int> Seeds { get; }

    /// <summary>P, the number of models.</summary>
    public int Count => Seeds.Count;

    /// <summary>Parameters per model.</summary>
    public int ParameterCount => Architecture.ParameterCount;

    internal IModelKernels Kernels { get; }
    internal ArrayView<float> Parameters => Usable(_parameters).View;
    internal ArrayView<float> Gradients => Usable(_gradients).View;
    internal ArrayView<float> Cache => Usable(_cache).View;

    /// <summary>Whether <see cref="Dispose"/> has run (or the device it lives on was disposed).</summary>
    public bool IsDisposed => _disposed || Device.IsDisposed;

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the model or its device was disposed.</summary>
    internal void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Device.ThrowIfDisposed();
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Usable(MemoryBuffer1D<float, Stride1D.Dense> buffer)
    {
        ThrowIfDisposed();
        return buffer;
    }

    /// <summary>Host addresses of the buffers; valid only on the CPU accelerator, whose buffers are host memory.</summary>
    internal (IntPtr Parameters, IntPtr Gradients, IntPtr Cache) HostPointers =>
        Device.Accelerator.AcceleratorType == AcceleratorType.CPU
            ? (Usable(_parameters).NativePtr, _gradients.NativePtr, _cache.NativePtr)
            : throw new InvalidOperationException("Host pointers exist only for models on the CPU accelerator.");

    /// <summary>All parameters, model after model (P·N values).</summary>
    public float[] GetParameters() => Usable(_parameters).GetAsArray1D();

    /// <summary>The parameters of model <paramref name="model"/> (N values).</summary>
    public float[] GetParameters(int model)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(model);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(model, Count);
        return Usable(_parameters).View.SubView((long)model * ParameterCount, ParameterCount).GetAsArray1D();
    }

    /// <summary>The last computed gradients, model after model (P·N values).</summary>
    public float[] GetGradients() => Usable(_gradients).GetAsArray1D();

    /// <summary>Replaces all parameters (P·N values, or N values for model <paramref name="model"/> when given).</summary>
    /// <exception cref="ArgumentException">Wrong length, or a NaN/Inf value.</exception>
    public void SetParameters(ReadOnlySpan<float> values, int? model = null)
    {
        ThrowIfDisposed();
        long expected = model is null ? (long)Count * ParameterCount : ParameterCount;
        if (values.Length != expected)
        {
            throw new ArgumentException(
                $"Expected {expected} parameter values ({(model is null ? $"{Count} models × " : "")}{ParameterCount} for {Architecture}), got {values.Length}.",
                nameof(values));
        }

        DataChecks.EnsureFinite(values, "parameters");
        ParametersChanged();
        if (model is int m)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(m, nameof(model));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(m, Count, nameof(model));
            _parameters.View.SubView((long)m * ParameterCount, ParameterCount).CopyFromCPU(values.ToArray());
        }
        else
        {
            _parameters.View.CopyFromCPU(values.ToArray());
        }
    }

    /// <summary>
    /// Replaces all parameters, NaN and infinities included: a training checkpoint restores a diverged model exactly as it
    /// was, so that a resumed run goes on as the uninterrupted one would have.
    /// </summary>
    internal void SetParametersAllowingNonFinite(float[] values)
    {
        ThrowIfDisposed();
        if (values.Length != (long)Count * ParameterCount)
            throw new ArgumentException($"Expected {Count * (long)ParameterCount} parameter values, got {values.Length}.", nameof(values));
        ParametersChanged();
        _parameters.View.CopyFromCPU(values);
    }

    /// <summary>Refreshes the derived weights (e.g. <c>tanh(Ŵ)·σ(M̂)</c>) of every model.</summary>
    internal void PrepareCache() =>
        Kernels.PrepareCache(new BatchShape { Models = Count, Batch = 1, Chunks = 1 },
            new UnitBuffers { Parameters = Parameters, Cache = Cache });

    /// <summary>
    /// Runs every model on <paramref name="x"/> of shape (P, B, I), or (B, I) when P = 1.
    /// Returns a new tensor of shape (P, B, O). Inputs must be finite (checked when they were uploaded).
    /// </summary>
    /// <exception cref="ArgumentException">A shape mismatch, naming both shapes.</exception>
    public DeviceTensor Forward(DeviceTensor x)
    {
        int batch = CheckInput(x);
        using var saved = AllocateSaved(batch);
        return RunForward(x, batch, saved.View);
    }

    /// <summary>
    /// The training-mode forward of the step-level API: runs every model on <paramref name="x"/> like
    /// <see cref="Forward"/> and keeps what the backward needs. Call <see cref="ForwardPass.Backward"/> on the result
    /// with ∂L/∂y to fill the parameter gradients (<see cref="GetGradients()"/>), and ∂L/∂x when asked.
    /// Units see an inference <see cref="Kernels.Units.SampleContext"/> here (the sNMU is the plain NMU: its training noise is
    /// drawn by the <see cref="Training.Trainer"/>), and a loss-dependent regulariser sees a loss of 0.
    /// </summary>
    /// <param name="x">Inputs of shape (P, B, I), or (B, I) when P = 1. The pass keeps a reference: keep it alive
    /// (undisposed) until the last <see cref="ForwardPass.Backward"/>.</param>
    /// <param name="step">0-based training step, passed to each unit's regulariser schedule when the backward finishes
    /// the gradients (NAU/NMU sparsity λ(t)); use <see cref="Training.Optimizer.Steps"/> to match the <see cref="Training.Trainer"/>.</param>
    /// <exception cref="ArgumentException">A shape mismatch, naming both shapes, or a tensor on another device.</exception>
    public ForwardPass ForwardForTraining(DeviceTensor x, int step = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        int batch = CheckInput(x);
        var saved = AllocateSaved(batch);
        try
        {
            var y = RunForward(x, batch, saved.View);
            return new ForwardPass(this, x, y, saved, batch, step);
        }
        catch
        {
            saved.Dispose();
            throw;
        }
    }

    private int CheckInput(DeviceTensor x)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        if (x.Device != Device)
            throw new ArgumentException("The input tensor lives on a different device than the model.", nameof(x));
        _ = x.Buffer;   // throws ObjectDisposedException for a disposed tensor
        return CheckInputShape(x.Shape);
    }

    private MemoryBuffer1D<float, Stride1D.Dense> AllocateSaved(int batch) =>
        Device.Accelerator.Allocate1D<float>(Math.Max(1L, (long)Count * batch * Kernels.SavedCount));

    private DeviceTensor RunForward(DeviceTensor x, int batch, ArrayView<float> saved)
    {
        var y = DeviceTensor.Zeros(Device, Count, batch, Architecture.Outputs);
        PrepareCache();
        var shape = new BatchShape { Models = Count, Batch = batch, Chunks = 1 };
        Kernels.Forward(shape, new UnitBuffers
        {
            Parameters = Parameters, Cache = Cache, X = x.View, Y = y.View, Saved = saved,
        });
        return y;
    }

    /// <summary>
    /// Bumped whenever the parameters change (<see cref="SetParameters"/>, an optimizer step, training), so a
    /// <see cref="ForwardPass"/> can tell that its saved values no longer match the weights.
    /// </summary>
    internal long ParameterVersion { get; private set; }

    internal void ParametersChanged() => ParameterVersion++;

    /// <summary>
    /// Sample chunks per model in the batched backward: enough to fill the device, capped so the gradient partials
    /// (P·chunks·N floats) stay within 64 MiB, and at most the batch. The batched trainer and <see cref="ForwardPass"/>
    /// use the same rule, so they sum the gradients in the same order.
    /// </summary>
    internal int BackwardChunks(int batch)
    {
        long threads = Device.MaxConcurrentThreads;
        long byThreads = Math.Max(1, threads / Count);
        long byMemory = Math.Max(1, (64L << 20) / ((long)Count * ParameterCount));
        return (int)Math.Min(Math.Min(byThreads, byMemory), batch);
    }

    /// <summary>Host convenience: runs every model on the same <paramref name="samples"/> rows of x (B·I values); returns (P, B·O).</summary>
    public float[][] Predict(ReadOnlySpan<float> x, int samples)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        int inputs = Architecture.Inputs;
        if (x.Length != (long)samples * inputs)
            throw new ArgumentException($"Expected {samples} rows of {inputs} inputs ({(long)samples * inputs} values), got {x.Length}.", nameof(x));
        DataChecks.EnsureFinite(x, "inputs");
        var all = new float[Count * x.Length];
        for (int p = 0; p < Count; p++)
            x.CopyTo(all.AsSpan(p * x.Length));
        if (Device.Kind == DeviceKind.Native)
        {
            // The native device predicts with the units' own code on the host's cores, as it trains.
            var host = new float[(long)Count * samples * Architecture.Outputs];
            Kernels.NativeForward(GetParameters(), all, Count, samples, host, Environment.ProcessorCount);
            int each = samples * Architecture.Outputs;
            return Enumerable.Range(0, Count).Select(p => host.AsSpan(p * each, each).ToArray()).ToArray();
        }

        using var input = DeviceTensor.FromArray(Device, all, Count, samples, inputs);
        using var y = Forward(input);
        var flat = y.ToArray();
        int per = samples * Architecture.Outputs;
        return Enumerable.Range(0, Count).Select(p => flat.AsSpan(p * per, per).ToArray()).ToArray();
    }

    private int CheckInputShape(IReadOnlyList<int> shape)
    {
        string given = $"[{string.Join(", ", shape)}]";
        if (shape.Count == 2 && Count == 1 && shape[1] == Architecture.Inputs)
            return shape[0];
        if (shape.Count == 3 && shape[0] == Count && shape[2] == Architecture.Inputs)
            return shape[1];
        throw new ArgumentException(
            $"Input shape {given} does not fit {Count} model(s) with {Architecture.Inputs} inputs: expected [{Count}, B, {Architecture.Inputs}]" +
            (Count == 1 ? $" or [B, {Architecture.Inputs}]." : "."), "x");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _parameters.Dispose();
        _gradients.Dispose();
        _cache.Dispose();
    }
}
