using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Training;

/// <summary>
/// The step-level optimizer: applies one update of <see cref="OptimizerOptions"/> to all P models' parameters from
/// their current gradients (<see cref="Model.GetGradients()"/>, filled by <see cref="ForwardPass.Backward"/>), then
/// each unit's constraint. It owns its moments (two per parameter, zero at first) and is disposable.
/// </summary>
/// <remarks>
/// One <see cref="Step"/> is exactly the <see cref="Trainer"/>'s batched update: clip each gradient by value, scale a
/// model's gradient by <c>min(1, clipNorm/‖g‖₂)</c> when clipping by norm, the update of <see cref="OptimizerKind"/>
/// at the 0-based step <see cref="Steps"/> (Adam's bias correction counts from it), then the units' clamps (NAU to
/// [−1, 1], NMU to [0, 1]). It does not zero the gradients: the next backward overwrites them.
/// </remarks>
public sealed class Optimizer : IDisposable
{
    private readonly Model _model;
    private readonly OptimizerSettings _settings;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _state, _learningRates, _normScales;
    private bool _disposed;

    /// <summary>Creates the optimizer for every model of <paramref name="model"/>, with zeroed moments.</summary>
    /// <param name="model">The models whose parameters it updates (not owned).</param>
    /// <param name="options">The rule, its hyper-parameters and clipping.</param>
    /// <param name="learningRates">One learning rate per model (null: every model uses <see cref="OptimizerOptions.LearningRate"/>).</param>
    /// <exception cref="ArgumentException">A learning-rate list whose length is not the number of models.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A learning rate that is not positive and finite.</exception>
    public Optimizer(Model model, OptimizerOptions options, IReadOnlyList<float>? learningRates = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        model.ThrowIfDisposed();
        if (learningRates is not null)
        {
            if (learningRates.Count != model.Count)
                throw new ArgumentException($"learningRates has {learningRates.Count} entries for {model.Count} models.", nameof(learningRates));
            foreach (float lr in learningRates)
            {
                if (!(float.IsFinite(lr) && lr > 0f))
                    throw new ArgumentOutOfRangeException(nameof(learningRates), lr, "Every learning rate must be positive and finite.");
            }
        }

        _model = model;
        Options = options;
        _settings = options.ToSettings();
        var accelerator = model.Device.Accelerator;
        _state = accelerator.Allocate1D<float>(2L * model.Count * model.ParameterCount);
        _state.MemSetToZero();
        _learningRates = accelerator.Allocate1D((learningRates ?? Enumerable.Repeat(options.LearningRate, model.Count)).ToArray());
        _normScales = accelerator.Allocate1D(Enumerable.Repeat(1f, model.Count).ToArray());
    }

    /// <summary>The models it updates.</summary>
    public Model Model => _model;

    /// <summary>The rule and its hyper-parameters.</summary>
    public OptimizerOptions Options { get; }

    /// <summary>Steps applied so far: the 0-based index of the next <see cref="Step"/>.</summary>
    public int Steps { get; private set; }

    /// <summary>Whether <see cref="Dispose"/> has run, or the model or its device was disposed.</summary>
    public bool IsDisposed => _disposed || _model.IsDisposed;

    /// <summary>
    /// Applies one update to every model's parameters from their current gradients, then the units' constraints,
    /// and counts the step. Forward passes made before it can no longer run their backward.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The optimizer, the model or the device was disposed.</exception>
    public void Step()
    {
        ThrowIfDisposed();
        var common = CommonKernels.For(_model.Device);
        int p = _model.Count, n = _model.ParameterCount;
        var buffers = new OptimizerBuffers
        {
            Parameters = _model.Parameters, Gradients = _model.Gradients, State = _state.View,
            LearningRates = _learningRates.View, NormScales = _normScales.View,
        };
        if (_settings.ClipNorm > 0f)
            _model.Kernels.NormScales(p, Steps, _settings, buffers);
        _model.Kernels.Update(p, Steps, _settings, buffers);
        _model.Kernels.Constrain(new BatchShape { Models = p, Batch = 1, Chunks = 1, Step = Steps },
            new UnitBuffers { Parameters = _model.Parameters });
        _model.ParametersChanged();
        Steps++;
    }

    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _model.ThrowIfDisposed();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _state.Dispose();
        _learningRates.Dispose();
        _normScales.Dispose();
    }
}
