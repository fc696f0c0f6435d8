namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Two units in sequence, itself a unit: <c>Chain&lt;A, Chain&lt;B, C&gt;&gt;</c> is the model A→B→C.
/// This is how one generic kernel trains a model of any depth with no per-depth code.
/// </summary>
/// <remarks>
/// Parameters, cache and gradients: the head's block, then the tail's. Saved per sample:
/// <c>[head saved | head output (the tail's input) | gradient of that output | tail saved]</c>.
/// </remarks>
public readonly struct Chain<THead, TTail> : IUnit
    where THead : struct, IUnit
    where TTail : struct, IUnit
{
    private readonly THead _head;
    private readonly TTail _tail;

    /// <summary>Chains <paramref name="head"/> into <paramref name="tail"/>; their widths must agree.</summary>
    public Chain(THead head, TTail tail)
    {
        if (head.Outputs != tail.Inputs)
        {
            throw new ArgumentException(
                $"Layer widths do not chain: a layer with {head.Outputs} outputs feeds a layer with {tail.Inputs} inputs.");
        }

        _head = head;
        _tail = tail;
    }

    /// <summary>The first unit.</summary>
    public THead Head => _head;
    /// <summary>The rest of the model.</summary>
    public TTail Tail => _tail;
    /// <inheritdoc />
    public int Inputs => _head.Inputs;
    /// <inheritdoc />
    public int Outputs => _tail.Outputs;
    /// <inheritdoc />
    public int ParameterCount => _head.ParameterCount + _tail.ParameterCount;
    /// <inheritdoc />
    public int CacheCount => _head.CacheCount + _tail.CacheCount;
    /// <inheritdoc />
    public int ElementCount => _head.ElementCount + _tail.ElementCount;
    /// <inheritdoc />
    public int SavedCount => _head.SavedCount + 2 * _head.Outputs + _tail.SavedCount;

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        int headElements = _head.ElementCount;
        if (element < headElements)
            _head.PrepareCache(element, parameters, paramOffset, cache, cacheOffset);
        else
            _tail.PrepareCache(element - headElements, parameters, paramOffset + _head.ParameterCount, cache, cacheOffset + _head.CacheCount);
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int middle = savedOffset + _head.SavedCount;
        int tailSaved = middle + 2 * _head.Outputs;
        _head.Forward(context, parameters, paramOffset, cache, cacheOffset, x, xOffset, saved, middle, saved, savedOffset);
        _tail.Forward(
            context, parameters, paramOffset + _head.ParameterCount, cache, cacheOffset + _head.CacheCount,
            saved, middle, y, yOffset, saved, tailSaved);
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int middle = savedOffset + _head.SavedCount;
        int middleGradient = middle + _head.Outputs;
        int tailSaved = middle + 2 * _head.Outputs;
        _tail.Backward(
            context, parameters, paramOffset + _head.ParameterCount, cache, cacheOffset + _head.CacheCount,
            saved, middle, saved, tailSaved, dy, dyOffset,
            grad, gradOffset + _head.ParameterCount, true, saved, middleGradient);
        _head.Backward(
            context, parameters, paramOffset, cache, cacheOffset, x, xOffset, saved, savedOffset, saved, middleGradient,
            grad, gradOffset, needInputGradient, dx, dxOffset);
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        int headElements = _head.ElementCount;
        if (element < headElements)
            _head.FinishGradient(element, parameters, paramOffset, grad, gradOffset);
        else
            _tail.FinishGradient(element - headElements, parameters, paramOffset + _head.ParameterCount, grad, gradOffset + _head.ParameterCount);
    }

    /// <inheritdoc />
    public void Regularize<TMem>(int element, int step, float loss, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        int headElements = _head.ElementCount;
        if (element < headElements)
            _head.Regularize(element, step, loss, parameters, paramOffset, grad, gradOffset);
        else
            _tail.Regularize(element - headElements, step, loss, parameters, paramOffset + _head.ParameterCount, grad, gradOffset + _head.ParameterCount);
    }

    /// <inheritdoc />
    public bool Trains(int parameter, int step) =>
        parameter < _head.ParameterCount ? _head.Trains(parameter, step) : _tail.Trains(parameter - _head.ParameterCount, step);

    /// <inheritdoc />
    public void Constrain<TMem>(int element, TMem parameters, int paramOffset)
        where TMem : struct, IFloatMemory
    {
        int headElements = _head.ElementCount;
        if (element < headElements)
            _head.Constrain(element, parameters, paramOffset);
        else
            _tail.Constrain(element - headElements, parameters, paramOffset + _head.ParameterCount);
    }
}
