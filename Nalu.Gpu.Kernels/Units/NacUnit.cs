namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Neural accumulator (Trask et al. 2018): <c>W = tanh(Ŵ)·σ(M̂)</c>, <c>a = x Wᵀ</c>. Learns + and −.
/// </summary>
/// <remarks>
/// Parameters: Ŵ (O×I, row-major) then M̂ (O×I). Cache: W (O×I). Saved per sample: nothing.
/// Backward: raw <c>∂L/∂W += δ xᵀ</c> in the Ŵ slot; <c>∂L/∂x = δ W</c>.
/// </remarks>
public readonly struct NacUnit : IUnit
{
    private readonly int _inputs;
    private readonly int _outputs;

    /// <summary>A NAC with <paramref name="inputs"/> inputs and <paramref name="outputs"/> outputs.</summary>
    public NacUnit(int inputs, int outputs)
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
    public int SavedCount => 0;

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
        LinearMath.Forward(cache, cacheOffset, _inputs, _outputs, x, xOffset, y, yOffset);
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        LinearMath.Backward(cache, cacheOffset, _inputs, _outputs, x, xOffset, dy, dyOffset, grad, gradOffset, needInputGradient, dx, dxOffset);
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
