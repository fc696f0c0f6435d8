namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="EmbeddingUnit"/>, a token-embedding lookup, batched: the executable
/// specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: the table T, V×E row-major (row = token id). Each sample's input is one token id <c>x_b</c>, its output
/// the row <c>Y_b = T[x_b]</c> (E values). Backward: <c>∂L/∂T[v] = Σ_{b : x_b = v} δ_b</c> (samples with the same id sum
/// into its row; rows no sample names get 0) and <c>∂L/∂X = 0</c> (an id is not differentiable).
/// An id that is not a whole number in <c>[0, V)</c> selects no row: its output is zeros and it adds nothing to the
/// gradient (<see cref="EmbeddingUnit.RowOf"/>; a guard, since data sets refuse such ids).
/// </remarks>
public static class EmbeddingReference
{
    /// <summary>Number of parameters: the V·E values of the table.</summary>
    public static int ParameterCount(int vocabulary, int width) => vocabulary * width;

    /// <summary>The table row of <paramref name="id"/>, or −1 when it is not a whole number in <c>[0, V)</c> (NaN and ±∞ included).</summary>
    public static int RowOf(double id, int vocabulary) =>
        id >= 0 && id < vocabulary && id == Math.Floor(id) ? (int)id : -1;

    /// <summary>Forward pass: the rows <c>T[x_b]</c> (B×E), zeros for an invalid id.</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int vocabulary, int width)
    {
        CheckShapes(parameters, x, batch, vocabulary, width);
        var y = new double[batch * width];
        for (int b = 0; b < batch; b++)
        {
            int row = RowOf(x[b], vocabulary);
            if (row >= 0)
                parameters.Slice(row * width, width).CopyTo(y.AsSpan(b * width, width));
        }

        return y;
    }

    /// <summary>
    /// Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×E): the gradient with respect to the table, summed over the
    /// batch (each sample's δ into its id's row), and ∂L/∂X (B×1), all zeros.
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int vocabulary, int width)
    {
        CheckShapes(parameters, x, batch, vocabulary, width);
        ReferenceMath.CheckLength(dy, batch * width, nameof(dy));
        var gradient = new double[vocabulary * width];
        for (int b = 0; b < batch; b++)
        {
            int row = RowOf(x[b], vocabulary);
            if (row < 0)
                continue;
            for (int k = 0; k < width; k++)
                gradient[row * width + k] += dy[b * width + k];
        }

        return (gradient, new double[batch]);
    }

    private static void CheckShapes(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int vocabulary, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if ((long)vocabulary * width > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"An embedding of {vocabulary} tokens × {width} values is too large.");
        ReferenceMath.CheckShapes(parameters, ParameterCount(vocabulary, width), x, batch, 1, width);
    }
}
