using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels.Launch;

namespace Nalu.Gpu.Models;

/// <summary>
/// One training-mode forward of a <see cref="Model"/> (from <see cref="Model.ForwardForTraining"/>): the outputs,
/// the values each unit saved for its backward, and a reference to the input. <see cref="Backward"/> turns ∂L/∂y
/// into the model's parameter gradients and, when asked, ∂L/∂x: the step-level API for a loop, loss or outer
/// network of your own. Disposable: frees the saved values and <see cref="Output"/>; it does not own the input.
/// </summary>
/// <remarks>
/// The gradient is the one the <see cref="Training.Trainer"/>'s batched strategy hands its optimizer: the chunked
/// per-sample sums reduced in chunk order, then <c>FinishGradient</c> (e.g. NAC's <c>∂W/∂Ŵ</c>, <c>∂W/∂M̂</c>) and
/// each unit's regulariser at the pass's <see cref="Step"/> (NAU/NMU sparsity <c>λ(t)·penalty′(W)/(O·I)</c>; no other
/// unit has one). Losses are not averaged for you: for the MSE over a model's B·O outputs pass
/// <c>∂L/∂y = 2(y − t)/(B·O)</c>.
/// </remarks>
public sealed class ForwardPass : IDisposable
{
    private readonly Model _model;
    private readonly DeviceTensor _input, _output;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _saved;
    private readonly long _version;
    private MemoryBuffer1D<float, Stride1D.Dense>? _partials;
    private bool _disposed;

    internal ForwardPass(Model model, DeviceTensor input, DeviceTensor output, MemoryBuffer1D<float, Stride1D.Dense> saved, int batch, int step)
    {
        _model = model;
        _input = input;
        _output = output;
        _saved = saved;
        Batch = batch;
        Step = step;
        _version = model.ParameterVersion;
    }

    /// <summary>The model this pass ran.</summary>
    public Model Model => _model;

    /// <summary>B, samples per model.</summary>
    public int Batch { get; }

    /// <summary>The 0-based training step given to the units' regularisers when the backward finishes the gradients.</summary>
    public int Step { get; }

    /// <summary>The input the pass ran on (not owned by the pass).</summary>
    public DeviceTensor Input
    {
        get
        {
            ThrowIfDisposed();
            return _input;
        }
    }

    /// <summary>The outputs, shape (P, B, O); owned by the pass and disposed with it.</summary>
    public DeviceTensor Output
    {
        get
        {
            ThrowIfDisposed();
            return _output;
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has run, or the model or its device was disposed.</summary>
    public bool IsDisposed => _disposed || _model.IsDisposed;

    /// <summary>
    /// Back-propagates <paramref name="outputGradient"/> (∂L/∂y, shape (P, B, O), or (B, O) when P = 1) through the
    /// models. OVERWRITES the model's parameter gradients (<see cref="Model.GetGradients()"/>) with the finished
    /// gradient (see the remarks of <see cref="ForwardPass"/>); it does not accumulate over calls.
    /// </summary>
    /// <param name="outputGradient">∂L/∂y on the model's device; expected finite.</param>
    /// <param name="inputGradient">Also compute ∂L/∂x.</param>
    /// <returns>∂L/∂x, a new tensor with the input's shape that the caller owns, when <paramref name="inputGradient"/>; else null.</returns>
    /// <exception cref="ArgumentException">A shape that is not the output's, or a tensor on another device.</exception>
    /// <exception cref="InvalidOperationException">The model's parameters changed since this forward pass.</exception>
    /// <exception cref="ObjectDisposedException">The pass, its input, the gradient tensor, the model or the device was disposed.</exception>
    public DeviceTensor? Backward(DeviceTensor outputGradient, bool inputGradient = false)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(outputGradient);
        if (outputGradient.Device != _model.Device)
            throw new ArgumentException("The output gradient lives on a different device than the model.", nameof(outputGradient));
        _ = outputGradient.Buffer;   // ObjectDisposedException for a disposed tensor
        _ = _input.Buffer;
        CheckGradientShape(outputGradient.Shape);
        if (_model.ParameterVersion != _version)
        {
            throw new InvalidOperationException(
                "The model's parameters changed since this forward pass (an optimizer step, SetParameters or training): its saved values no longer match. Run a new forward pass.");
        }

        int p = _model.Count, n = _model.ParameterCount;
        int chunks = _model.BackwardChunks(Batch);
        var accelerator = _model.Device.Accelerator;
        _partials ??= accelerator.Allocate1D<float>((long)p * chunks * n);
        var dx = inputGradient ? DeviceTensor.Zeros(_model.Device, _input.Shape.ToArray()) : null;
        var shape = new BatchShape { Models = p, Batch = Batch, Chunks = chunks, NeedInputGradient = inputGradient ? 1 : 0, Step = Step };
        var buffers = new UnitBuffers
        {
            Parameters = _model.Parameters, Cache = _model.Cache, Gradients = _model.Gradients, Partials = _partials.View,
            X = _input.View, Y = _output.View, Saved = _saved.View, Dy = outputGradient.View,
            Dx = dx?.View ?? _input.View,   // not written when no input gradient is asked for
        };
        // The cache holds the derived weights of the current parameters: unchanged since the forward (version check),
        // but another pass or Model.Forward may have refreshed it in between, to the same values.
        _model.Kernels.Backward(shape, buffers);
        _model.Kernels.ReduceGradients(shape, buffers);
        _model.Kernels.FinishGradients(shape, buffers);
        return dx;
    }

    private void CheckGradientShape(IReadOnlyList<int> shape)
    {
        int p = _model.Count, o = _model.Architecture.Outputs;
        bool fits = (shape.Count == 3 && shape[0] == p && shape[1] == Batch && shape[2] == o)
                    || (shape.Count == 2 && p == 1 && shape[0] == Batch && shape[1] == o);
        if (!fits)
        {
            throw new ArgumentException(
                $"Output gradient shape [{string.Join(", ", shape)}] does not match the outputs of this pass: expected [{p}, {Batch}, {o}]" +
                (p == 1 ? $" or [{Batch}, {o}]." : "."), "outputGradient");
        }
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
        _output.Dispose();
        _saved.Dispose();
        _partials?.Dispose();
    }
}
