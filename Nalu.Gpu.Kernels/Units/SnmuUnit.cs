namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Stochastic NMU (Mistry et al., nalm-benchmark). In a training pass (<see cref="SampleContext.IsTraining"/>) each input
/// element gets multiplicative noise <c>n_i ~ U[1, 5]</c> from the counter RNG keyed by (model seed, step, sample, element),
/// and the unit outputs <c>y_o = NMU_o(x⊙n) / NMU_o(n)</c> with the same W; dividing by <c>NMU_o(n)</c> removes the noise's
/// own product, so a W that selects the right inputs is still exact while a wrong one is perturbed. At inference
/// (evaluation, prediction) it is the plain NMU. W ∈ [0, 1], clamped after every step, with the NMU's regulariser.
/// </summary>
/// <remarks>
/// The products, their backward (prefix and suffix products, never a division by a factor), the clamp and the regulariser
/// are <see cref="NmuUnit"/>'s code: this unit builds <c>u = x⊙n</c>, runs the NMU on u and on n, and divides.
/// With <c>P_o = NMU_o(u)</c>, <c>Q_o = NMU_o(n)</c> (every factor of Q is <c>1 + W(n − 1) ≥ 1</c> for W ∈ [0, 1], so Q ≥ 1)
/// and δ = ∂L/∂y: <c>∂L/∂P_o = δ_o / Q_o</c>, <c>∂L/∂Q_o = −δ_o P_o / Q_o²</c>, both fed through the NMU's backward into W;
/// <c>∂L/∂x_i = n_i ∂L/∂u_i</c> (n does not depend on x or W).
/// Saved per sample: u (I), n (I), P (O), Q (O), the NMU's saved values over u (I·O) and over n (I·O), then scratch:
/// ∂L/∂P or ∂L/∂Q (O) and ∂L/∂u (I). At inference only the NMU's saved values over x (the first I·O after u, n, P, Q) are used.
/// The noise is keyed by the sample's position in the step's batch and the element index, not by layer: two sNMU layers of one
/// model see the same noise sequence (each over its own inputs).
/// </remarks>
public readonly struct SnmuUnit : IUnit
{
    /// <summary>Lower bound of the noise.</summary>
    public const float NoiseLow = 1f;

    /// <summary>Upper bound of the noise.</summary>
    public const float NoiseHigh = 5f;

    private readonly int _inputs;
    private readonly NmuUnit _nmu;

    /// <summary>An sNMU with the given widths and (optional) regulariser.</summary>
    public SnmuUnit(int inputs, int outputs, RegularizerSettings regularizer = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _nmu = new NmuUnit(inputs, outputs, regularizer);
    }

    /// <summary>The regulariser and its schedule.</summary>
    public RegularizerSettings Regularizer => _nmu.Regularizer;
    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _nmu.Outputs;
    /// <inheritdoc />
    public int ParameterCount => _nmu.ParameterCount;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => _nmu.ElementCount;
    /// <inheritdoc />
    public int SavedCount => 2 * _inputs + 2 * Outputs + 2 * _nmu.SavedCount + Outputs + _inputs;

    /// <summary>The noise <c>n ∈ [1, 5)</c> of input element <paramref name="element"/> of an I-input layer in a training pass.</summary>
    public static float Noise(SampleContext context, int inputs, int element) =>
        NoiseLow + (NoiseHigh - NoiseLow) * CounterRng.Uniform(
            CounterRng.Key((uint)context.Seed, CounterRng.NoiseStream), (uint)context.Step, (uint)(context.Sample * inputs + element));

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        // W is used directly: nothing to derive.
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs, outputs = _nmu.Outputs;
        int u = savedOffset, n = u + inputs, pOff = n + inputs, qOff = pOff + outputs, nmuU = qOff + outputs, nmuN = nmuU + _nmu.SavedCount;
        if (!context.IsTraining)
        {
            _nmu.Forward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset, y, yOffset, saved, nmuU);
            return;
        }

        ulong key = CounterRng.Key((uint)context.Seed, CounterRng.NoiseStream);
        for (int i = 0; i < inputs; i++)
        {
            float noise = NoiseLow + (NoiseHigh - NoiseLow) * CounterRng.Uniform(key, (uint)context.Step, (uint)(context.Sample * inputs + i));
            saved[n + i] = noise;
            saved[u + i] = x[xOffset + i] * noise;
        }

        _nmu.Forward(context, parameters, paramOffset, cache, cacheOffset, saved, u, saved, pOff, saved, nmuU);
        _nmu.Forward(context, parameters, paramOffset, cache, cacheOffset, saved, n, saved, qOff, saved, nmuN);
        for (int o = 0; o < outputs; o++)
            y[yOffset + o] = saved[pOff + o] / saved[qOff + o];
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int inputs = _inputs, outputs = _nmu.Outputs;
        int u = savedOffset, n = u + inputs, pOff = n + inputs, qOff = pOff + outputs, nmuU = qOff + outputs, nmuN = nmuU + _nmu.SavedCount;
        int dOff = nmuN + _nmu.SavedCount, duOff = dOff + outputs;
        if (!context.IsTraining)
        {
            _nmu.Backward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset, saved, nmuU, dy, dyOffset,
                grad, gradOffset, needInputGradient, dx, dxOffset);
            return;
        }

        // Through P = NMU(u): ∂L/∂P = δ/Q.
        for (int o = 0; o < outputs; o++)
            saved[dOff + o] = dy[dyOffset + o] / saved[qOff + o];
        _nmu.Backward(context, parameters, paramOffset, cache, cacheOffset, saved, u, saved, nmuU, saved, dOff,
            grad, gradOffset, needInputGradient, saved, duOff);
        // Through Q = NMU(n): ∂L/∂Q = −δ P/Q² (n is a constant: no input gradient).
        for (int o = 0; o < outputs; o++)
        {
            float q = saved[qOff + o];
            saved[dOff + o] = -dy[dyOffset + o] * saved[pOff + o] / (q * q);
        }

        _nmu.Backward(context, parameters, paramOffset, cache, cacheOffset, saved, n, saved, nmuN, saved, dOff,
            grad, gradOffset, false, saved, duOff);
        if (!needInputGradient)
            return;
        for (int i = 0; i < inputs; i++)
            dx[dxOffset + i] = saved[duOff + i] * saved[n + i];
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // W is used directly: the raw gradient is final.
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _nmu.Regularize(element, step, loss, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => _nmu.Trains(parameter, step);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory =>
        _nmu.Constrain(element, parameters, paramOffset);
}
