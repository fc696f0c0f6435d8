namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Any unit as a recurrent cell, run through time: <c>h_t = cell([x_t, h_{t−1}])</c> for t = 1…T from <c>h_0 = 0</c>, and
/// the output is the first <c>K</c> values of <c>h_T</c>, or of every <c>h_t</c> (T·K values, step-major) when built with
/// <c>everyStep</c>: a loss on every step's state (Madsen &amp; Johansen's cumulative targets) trains the state's weights
/// far more directly than one read at the end. Backward is backpropagation through time: the cell's own
/// backward from the last step to the first, accumulating into the one gradient, with <c>∂L/∂h_{t−1}</c> taken from the
/// cell's input gradient. Because this is an <see cref="IUnit"/>, the fused step, the group kernel, the batched kernels
/// and the native path train a recurrent model with their own loops unchanged: one step, one trainer.
/// </summary>
/// <remarks>
/// <para>
/// The cell reads <c>F + S</c> inputs and writes <c>S</c> outputs, the state; <c>F = cell.Inputs − cell.Outputs</c> values
/// arrive per step, so the unit's input is a whole sequence of <c>T·F</c> values, step-major (<c>x[t·F + i]</c>). The
/// state is the cell's whole output: an LSTM cell writes <c>[h, c]</c> and reads <c>[x, h, c]</c>, and
/// <see cref="Outputs"/> = K = H reads its h. Parameters, cache and the per-element hooks (cache refresh, gradient
/// finishing, regulariser, constraint, <see cref="Trains"/>) are the cell's: a recurrent layer has the parameters of one
/// cell, whatever T.
/// </para>
/// <para>
/// Saved, per sample (floats): for each step t a block of <c>F + S + Sc</c>: the cell's input <c>z_t = [x_t, h_{t−1}]</c>,
/// then the cell's saved values (<c>Sc = cell.SavedCount</c>); the cell's output at step t is written straight into
/// <c>z_{t+1}</c>'s state part. Then <c>h_T</c> (S), and the backward's scratch: the cell's input gradient (F + S) and
/// the state gradient (S). So a sample needs <c>T·(F + S + Sc) + 3S + F</c> floats, linear in T: the memory the host
/// checks before it allocates.
/// </para>
/// <para>
/// Every step sees the sample's <see cref="SampleContext"/>: a cell that draws noise (the sNMU) draws the same noise at
/// every step of a sample.
/// </para>
/// </remarks>
public readonly struct RecurrentUnit<TCell> : IUnit
    where TCell : struct, IUnit
{
    private readonly TCell _cell;
    private readonly int _steps;
    private readonly int _readout;
    // 1 when every step is read out; an int, because ILGPU refuses bool fields in kernel parameters.
    private readonly int _everyStep;

    /// <summary>
    /// <paramref name="cell"/> run for <paramref name="steps"/> steps, reading the first <paramref name="readout"/> state
    /// values of the last step (0: the whole state), or of every step when <paramref name="everyStep"/>.
    /// </summary>
    public RecurrentUnit(TCell cell, int steps, int readout = 0, bool everyStep = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        if (cell.Inputs <= cell.Outputs)
        {
            throw new ArgumentException(
                $"A recurrent cell reads [x_t, state]: it needs more inputs ({cell.Inputs}) than state values ({cell.Outputs}).", nameof(cell));
        }

        if (readout < 0 || readout > cell.Outputs)
            throw new ArgumentOutOfRangeException(nameof(readout), readout, $"The readout must lie in [0, {cell.Outputs}] (0: the whole state).");
        if ((long)steps * (cell.Inputs + cell.SavedCount) + 3L * cell.Outputs + cell.Inputs > int.MaxValue / 4)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "A sequence this long does not fit 32-bit indexing of a sample's saved values.");
        _cell = cell;
        _steps = steps;
        _readout = readout == 0 ? cell.Outputs : readout;
        _everyStep = everyStep ? 1 : 0;
    }

    /// <summary>The cell run at every step.</summary>
    public TCell Cell => _cell;
    /// <summary>T, the steps of a sequence.</summary>
    public int Steps => _steps;
    /// <summary>F, the inputs that arrive per step.</summary>
    public int InputsPerStep => _cell.Inputs - _cell.Outputs;
    /// <summary>S, the state fed back (the cell's outputs).</summary>
    public int StateSize => _cell.Outputs;
    /// <inheritdoc />
    public int Inputs => _steps * InputsPerStep;
    /// <summary>Whether the output is the readout of every step (T·K values) rather than of the last (K).</summary>
    public bool EveryStep => _everyStep != 0;
    /// <inheritdoc />
    public int Outputs => _everyStep != 0 ? _steps * _readout : _readout;
    /// <inheritdoc />
    public int ParameterCount => _cell.ParameterCount;
    /// <inheritdoc />
    public int CacheCount => _cell.CacheCount;
    /// <inheritdoc />
    public int ElementCount => _cell.ElementCount;
    /// <inheritdoc />
    public int SavedCount => _steps * StepBlock + 3 * _cell.Outputs + InputsPerStep;

    // One step's block of saved values: the cell's input z_t, then the cell's own saved values.
    private int StepBlock => _cell.Inputs + _cell.SavedCount;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory =>
        _cell.PrepareCache(element, parameters, paramOffset, cache, cacheOffset);

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int f = InputsPerStep, s = _cell.Outputs, block = StepBlock, steps = _steps;
        int last = savedOffset + steps * block;
        for (int k = 0; k < s; k++)
            saved[savedOffset + f + k] = 0f;   // h_0
        for (int t = 0; t < steps; t++)
        {
            int z = savedOffset + t * block;
            saved.CopyFrom(z, x, xOffset + t * f, f);
            // The new state goes straight into the next step's input (or into h_T after the last step).
            int next = t + 1 < steps ? z + block + f : last;
            _cell.Forward(context, parameters, paramOffset, cache, cacheOffset, saved, z, saved, next, saved, z + _cell.Inputs);
            if (_everyStep != 0)
                y.CopyFrom(yOffset + t * _readout, saved, next, _readout);
        }

        if (_everyStep == 0)
        {
            for (int k = 0; k < _readout; k++)
                y[yOffset + k] = saved[last + k];
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int f = InputsPerStep, s = _cell.Outputs, block = StepBlock, steps = _steps;
        int dz = savedOffset + steps * block + s;   // ∂L/∂z_t, the cell's input gradient
        int dh = dz + f + s;                        // ∂L/∂h_t, the cell's output gradient
        int lastRead = _everyStep != 0 ? dyOffset + (steps - 1) * _readout : dyOffset;
        for (int k = 0; k < s; k++)
            saved[dh + k] = k < _readout ? dy[lastRead + k] : 0f;
        for (int t = steps - 1; t >= 0; t--)
        {
            int z = savedOffset + t * block;
            // At t = 0 the input gradient only matters for ∂L/∂x_0 (h_0 is a constant).
            bool needZ = t > 0 || needInputGradient;
            _cell.Backward(context, parameters, paramOffset, cache, cacheOffset, saved, z, saved, z + _cell.Inputs,
                saved, dh, grad, gradOffset, needZ, saved, dz);
            if (!needZ)
                break;
            if (needInputGradient)
                dx.CopyFrom(dxOffset + t * f, saved, dz, f);
            saved.CopyFrom(dh, saved, dz + f, s);
            if (_everyStep != 0 && t > 0)
            {
                // h_{t−1} was also read out, at step t − 1.
                for (int k = 0; k < _readout; k++)
                    saved[dh + k] += dy[dyOffset + (t - 1) * _readout + k];
            }
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _cell.FinishGradient(element, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _cell.Regularize(element, step, loss, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory =>
        _cell.Constrain(element, parameters, paramOffset);

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => _cell.Trains(parameter, step);
}
