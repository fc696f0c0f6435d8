namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// A token embedding: a lookup table of V rows of E values, one row per token id. It reads ONE value, the token id (a
/// float holding a whole number in <c>[0, V)</c>), and writes that id's row: <c>y_k = table[id·E + k]</c>. Applied to
/// each token of a sequence as <c>EachStepUnit&lt;EmbeddingUnit&gt;</c>, it turns T ids into T·E values for a recurrent
/// head (the "language to number" task: an LSTM reads number words token by token).
/// </summary>
/// <remarks>
/// <para>
/// Parameters: the table, V×E row-major (row = token id): <c>V·E</c> values. No cache, no per-element hooks
/// (<see cref="ElementCount"/> 0, as <see cref="DenseUnit{TActivation}"/>), nothing saved: the backward reads the id again
/// from x. The table is used as it is, so raw gradients are final.
/// </para>
/// <para>
/// Backward: <c>∂L/∂table[id·E + k] += dy_k</c> (ACCUMULATED, so samples, or steps of an
/// <c>EachStepUnit</c>, that hit the same id sum their dy into the one row); every other row gets nothing. A token id is
/// not differentiable, so when asked the backward OVERWRITES the single dx value with 0 (the input gradient is defined,
/// and zero, as every unit's dx is overwritten).
/// </para>
/// <para>
/// Invalid ids are a GUARD, not a feature: an id that is not a whole number in <c>[0, V)</c> (negative, ≥ V, fractional,
/// NaN, ±∞) selects no row: y is all zeros and the backward adds nothing to the table (the output does not depend on
/// it). Nothing outside the table is ever read or written, inside a kernel or on the host. Data sets refuse such ids
/// before training; this only keeps a bad value from reading out of bounds. Zeros rather than clamping to the nearest
/// row: a clamped id would silently read and train a real token's row, while a zero row changes nothing it should not.
/// <see cref="RowOf"/> is the rule, for host-side validation too.
/// </para>
/// </remarks>
public readonly struct EmbeddingUnit : IUnit
{
    /// <summary>
    /// The largest vocabulary: 2²⁴, the whole numbers a float holds exactly, so every id in <c>[0, V)</c> is one value and
    /// the id comparisons of <see cref="RowOf"/> are exact.
    /// </summary>
    public const int MaxVocabulary = 1 << 24;

    private readonly int _vocabulary;
    private readonly int _width;

    /// <summary>An embedding of <paramref name="vocabulary"/> token ids into <paramref name="width"/> values each.</summary>
    public EmbeddingUnit(int vocabulary, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vocabulary, MaxVocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        // ParameterCount, V·E, must fit an int.
        if ((long)vocabulary * width > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"An embedding of {vocabulary} tokens × {width} values is too large.");
        _vocabulary = vocabulary;
        _width = width;
    }

    /// <summary>V, the token ids (rows of the table).</summary>
    public int Vocabulary => _vocabulary;
    /// <summary>E, the values per token (columns of the table).</summary>
    public int Width => _width;
    /// <inheritdoc />
    public int Inputs => 1;
    /// <inheritdoc />
    public int Outputs => _width;
    /// <inheritdoc />
    public int ParameterCount => _vocabulary * _width;
    /// <inheritdoc />
    public int CacheCount => 0;
    /// <inheritdoc />
    public int ElementCount => 0;
    /// <inheritdoc />
    public int SavedCount => 0;

    /// <summary>
    /// The table row of token id <paramref name="id"/>: the id itself when it is a whole number in
    /// <c>[0, <paramref name="vocabulary"/>)</c>, else −1 (negative, too large, fractional, NaN or ±∞).
    /// </summary>
    public static int RowOf(float id, int vocabulary)
    {
        // NaN fails both comparisons; the range test comes first, so the conversion below never sees a value outside
        // [0, V) (V ≤ 2^24, exact in a float).
        if (!(id >= 0f && id < vocabulary))
            return -1;
        int row = (int)id;
        return row == id ? row : -1;
    }

    /// <inheritdoc />
    public void PrepareCache<TMem>(int element, TMem parameters, int paramOffset, TMem cache, int cacheOffset)
        where TMem : struct, IFloatMemory
    {
        // Nothing derived: the table is used as it is.
    }

    /// <inheritdoc />
    public void Forward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem y, int yOffset, TMem saved, int savedOffset)
        where TMem : struct, IFloatMemory
    {
        int width = _width;
        int row = RowOf(x[xOffset], _vocabulary);
        if (row >= 0)
        {
            y.CopyFrom(yOffset, parameters, paramOffset + row * width, width);
        }
        else
        {
            // Guard: no row for an invalid id (see the remarks).
            for (int k = 0; k < width; k++)
                y[yOffset + k] = 0f;
        }
    }

    /// <inheritdoc />
    public void Backward<TMem>(
        SampleContext context, TMem parameters, int paramOffset, TMem cache, int cacheOffset,
        TMem x, int xOffset, TMem saved, int savedOffset, TMem dy, int dyOffset,
        TMem grad, int gradOffset, bool needInputGradient, TMem dx, int dxOffset)
        where TMem : struct, IFloatMemory
    {
        int width = _width;
        int row = RowOf(x[xOffset], _vocabulary);   // read before dx is written
        if (row >= 0)
            grad.AddScaled(gradOffset + row * width, 1f, dy, dyOffset, width);
        if (needInputGradient)
            dx[dxOffset] = 0f;   // a token id is not differentiable
    }

    /// <inheritdoc />
    public void FinishGradient<TMem>(int element, TMem parameters, int paramOffset, TMem grad, int gradOffset)
        where TMem : struct, IFloatMemory
    {
        // Raw gradients are final: the table is used as it is.
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
