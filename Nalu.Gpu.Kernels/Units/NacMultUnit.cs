namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Multiplicative accumulator NAC•: <c>m = exp(log(|x|+ε) Wᵀ)</c> with <c>W = tanh(Ŵ)·σ(M̂)</c>.
/// Learns ×, ÷ and powers in [-1, 1] of positive inputs; the sign of x is lost.
/// </summary>
/// <remarks>
/// Parameters: Ŵ, M̂ (O×I each). Cache: W. Saved per sample: the exponent z (O), then m (O), then
/// <c>log(|x|+ε)</c> (I). The exponent is clamped at 88 with zero gradient (see <see cref="UnitMath"/>).
/// Backward: <c>∂L/∂W_oi += δ_o m_o log(|x_i|+ε)</c>; <c>∂L/∂x_i = Σ_o δ_o m_o W_oi sign(x_i)/(|x_i|+ε)</c>.
/// </remarks>
public readonly struct NacMultUnit : IUnit
{
    private readonly int _inputs;
    private readonly int _outputs;

    /// <summary>A NAC• with the given widths.</summary>
    public NacMultUnit(int inputs, int outputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        _inputs = inputs;
        _outputs = outputs;
    }

    /// <inheritdoc />
    public int Inputs => _inputs;
    /// <inheritdoc />
    public int Outputs => _outputs;
    /// <inheritdoc />
    public int ParameterCount => 2 * _inputs * _outputs;
    /// <inheritdoc />
    public int CacheCount => _inputs * _outputs;
    /// <inheritdoc />
    public int ElementCount => _inputs * _outputs;
    /// <inheritdoc />
    public int SavedCount => 2 * _outputs + _inputs;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        int weights = _inputs * _outputs;
        cache[cacheOffset + element] = UnitMath.NacWeight(
            parameters[paramOffset + element], parameters[paramOffset + weights + element]);
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int logs = savedOffset + 2 * _outputs;
        saved.StoreLogAbs(logs, x, xOffset, _inputs);

        for (int o = 0; o < _outputs; o++)
        {
            float z = cache.Dot(cacheOffset + o * _inputs, saved, logs, _inputs);
            float m = UnitMath.ClampedExp(z);
            saved[savedOffset + o] = z;
            saved[savedOffset + _outputs + o] = m;
            y[yOffset + o] = m;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int logs = savedOffset + 2 * _outputs;
        if (needInputGradient)
        {
            for (int i = 0; i < _inputs; i++)
                dx[dxOffset + i] = 0f;
        }

        for (int o = 0; o < _outputs; o++)
        {
            // δ·m is the gradient of the exponent z; the clamp passes none.
            float dz = UnitMath.IsClamped(saved[savedOffset + o])
                ? 0f
                : dy[dyOffset + o] * saved[savedOffset + _outputs + o];
            int row = o * _inputs;
            grad.AddScaled(gradOffset + row, dz, saved, logs, _inputs);
            if (needInputGradient)
                dx.AddScaled(dxOffset, dz, cache, cacheOffset + row, _inputs);
        }

        if (needInputGradient)
        {
            for (int i = 0; i < _inputs; i++)
                dx[dxOffset + i] *= UnitMath.LogAbsDerivative(x[xOffset + i]);
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        int weights = _inputs * _outputs;
        var pair = UnitMath.NacWeightBackward(
            grad[gradOffset + element], parameters[paramOffset + element], parameters[paramOffset + weights + element]);
        grad[gradOffset + element] = pair.WHat;
        grad[gradOffset + weights + element] = pair.MHat;
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // No regulariser.
    }

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => true;

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        // No constraint.
    }
}
