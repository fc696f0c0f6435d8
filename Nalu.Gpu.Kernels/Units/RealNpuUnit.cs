namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Real neural power unit (Heim et al. 2020): the <see cref="NpuUnit"/> with <c>W_im ≡ 0</c>,
/// <c>z = exp(W_re log r)·cos(π W_re k)</c> with <c>r = ĝ(|x|+ε) + (1−ĝ)</c>, <c>k = ĝ·[x&lt;0]</c>, <c>ĝ = clamp(g, 0, 1)</c>.
/// </summary>
/// <remarks>
/// Parameters: <c>[W_re (O×I), g (I)]</c>. Equations, saved values, clamps and the L1 regulariser as
/// <see cref="NpuUnit"/> (whose math this wraps, with the imaginary terms left out).
/// </remarks>
public readonly struct RealNpuUnit : IUnit
{
    private readonly NpuUnit _npu;

    /// <summary>A real NPU with the given widths and weight regulariser (Heim et al.'s L1, or none).</summary>
    public RealNpuUnit(int inputs, int outputs, RegularizerSettings regularizer = default) =>
        _npu = new NpuUnit(inputs, outputs, regularizer, real: true);

    /// <summary>The weight regulariser.</summary>
    public RegularizerSettings Regularizer => _npu.Regularizer;
    /// <inheritdoc />
    public int Inputs => _npu.Inputs;
    /// <inheritdoc />
    public int Outputs => _npu.Outputs;
    /// <inheritdoc />
    public int ParameterCount => _npu.ParameterCount;
    /// <inheritdoc />
    public int CacheCount => _npu.CacheCount;
    /// <inheritdoc />
    public int ElementCount => _npu.ElementCount;
    /// <inheritdoc />
    public int SavedCount => _npu.SavedCount;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory =>
        _npu.PrepareCache(element, parameters, paramOffset, cache, cacheOffset);

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory =>
        _npu.Forward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset, y, yOffset, saved, savedOffset);

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory =>
        _npu.Backward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset, saved, savedOffset, dy, dyOffset,
            grad, gradOffset, needInputGradient, dx, dxOffset);

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _npu.FinishGradient(element, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _npu.Regularize(element, step, loss, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => _npu.Trains(parameter, step);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory =>
        _npu.Constrain(element, parameters, paramOffset);
}
