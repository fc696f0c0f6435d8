namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NauUnit"/>, batched and in matrix form: the executable
/// specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: W (O×I, row-major), used directly. <c>Y = X Wᵀ</c>; <c>∂L/∂W = δᵀ X</c>, <c>∂L/∂X = δ W</c>.
/// The regulariser's reference is <see cref="SparsityReference"/>; the clamp to [−1, 1] is <see cref="Constrain"/>.
/// </remarks>
public static class NauReference
{
    /// <summary>Number of parameters: O·I.</summary>
    public static int ParameterCount(int inputs, int outputs) => inputs * outputs;

    /// <summary>Forward pass: <c>Y = X Wᵀ</c> (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        return ReferenceMath.MultiplyTransposed(x, parameters, batch, inputs, outputs);
    }

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×O): ∂L/∂W (summed over the batch) and ∂L/∂X (B×I).</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        var gradW = ReferenceMath.TransposedMultiply(dy, x, batch, outputs, inputs);   // δᵀ X  (O, I)
        var dx = ReferenceMath.Multiply(dy, parameters, batch, outputs, inputs);        // δ W   (B, I)
        return (gradW, dx);
    }

    /// <summary>The constraint: every weight clamped to [−1, 1].</summary>
    public static double[] Constrain(ReadOnlySpan<double> parameters)
    {
        var w = parameters.ToArray();
        for (int k = 0; k < w.Length; k++)
            w[k] = Math.Min(1, Math.Max(-1, w[k]));
        return w;
    }
}
