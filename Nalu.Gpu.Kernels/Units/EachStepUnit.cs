namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Any unit applied to each step of a sequence with the same weights ("time-distributed"): the input is T slices of
/// <c>I</c> values, step-major, and the output T slices of <c>O</c>, <c>y_t = inner(x_t)</c>. It is how a per-image network
/// sits in front of a recurrent head (issue 18): <c>EachStep(Dense(784→64), T)</c> then <c>EachStep(Dense(64→10), T)</c>
/// then <c>Recurrent(Nac(10 + 10 → 10), T)</c> reads a sequence of T images and counts their classes.
/// </summary>
/// <remarks>
/// Backward runs the inner unit's backward once per step into the one gradient, so the steps share the weights as a
/// convolution over time would. Parameters, cache and the per-element hooks are the inner unit's: the layer has the
/// parameters of one inner unit, whatever T. Saved per sample: T blocks of the inner unit's saved values.
/// </remarks>
public readonly struct EachStepUnit<TInner> : IUnit
    where TInner : struct, IUnit
{
    private readonly TInner _inner;
    private readonly int _steps;

    /// <summary><paramref name="inner"/> applied to each of <paramref name="steps"/> slices of the input.</summary>
    public EachStepUnit(TInner inner, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        if ((long)steps * Math.Max(inner.Inputs, Math.Max(inner.Outputs, inner.SavedCount)) > int.MaxValue / 4)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "A sequence this long does not fit 32-bit indexing of a sample's values.");
        _inner = inner;
        _steps = steps;
    }

    /// <summary>The unit applied at every step.</summary>
    public TInner Inner => _inner;
    /// <summary>T, the steps of a sequence.</summary>
    public int Steps => _steps;
    /// <inheritdoc />
    public int Inputs => _steps * _inner.Inputs;
    /// <inheritdoc />
    public int Outputs => _steps * _inner.Outputs;
    /// <inheritdoc />
    public int ParameterCount => _inner.ParameterCount;
    /// <inheritdoc />
    public int CacheCount => _inner.CacheCount;
    /// <inheritdoc />
    public int ElementCount => _inner.ElementCount;
    /// <inheritdoc />
    public int SavedCount => _steps * _inner.SavedCount;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory =>
        _inner.PrepareCache(element, parameters, paramOffset, cache, cacheOffset);

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int i = _inner.Inputs, o = _inner.Outputs, sc = _inner.SavedCount;
        for (int t = 0; t < _steps; t++)
            _inner.Forward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset + t * i, y, yOffset + t * o, saved, savedOffset + t * sc);
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int i = _inner.Inputs, o = _inner.Outputs, sc = _inner.SavedCount;
        for (int t = 0; t < _steps; t++)
        {
            _inner.Backward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset + t * i, saved, savedOffset + t * sc,
                dy, dyOffset + t * o, grad, gradOffset, needInputGradient, dx, dxOffset + t * i);
        }
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _inner.FinishGradient(element, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory =>
        _inner.Regularize(element, step, loss, parameters, paramOffset, grad, gradOffset);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory =>
        _inner.Constrain(element, parameters, paramOffset);

    /// <inheritdoc />
    public bool Trains(int parameter, int step) => _inner.Trains(parameter, step);
}
