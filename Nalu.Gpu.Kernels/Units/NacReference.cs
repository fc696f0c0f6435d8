namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NacUnit"/>, batched and in matrix form straight from
/// the specification: the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[Ŵ, M̂]</c>, each O×I row-major (the layout of <see cref="NacUnit"/>).
/// <c>W = tanh(Ŵ) ⊙ σ(M̂)</c>, <c>Y = X Wᵀ</c>. With <c>Gw = δᵀ X</c>:
/// <c>∂L/∂Ŵ = Gw ⊙ (1 − tanh²Ŵ) ⊙ σ(M̂)</c>, <c>∂L/∂M̂ = Gw ⊙ tanh(Ŵ) ⊙ σ(M̂)(1 − σ(M̂))</c>,
/// <c>∂L/∂X = δ W</c>.
/// </remarks>
public static class NacReference
{
    /// <summary>Number of parameters of a NAC with the given widths: 2·O·I.</summary>
    public static int ParameterCount(int inputs, int outputs) => 2 * inputs * outputs;

    /// <summary>Forward pass: <c>Y = X Wᵀ</c> (B×O) for <paramref name="x"/> (B×I).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        int n = inputs * outputs;
        var w = Weights(parameters[..n], parameters[n..(2 * n)]);
        return ReferenceMath.MultiplyTransposed(x, w, batch, inputs, outputs);
    }

    /// <summary>
    /// Backward pass of <c>L</c> given <paramref name="dy"/> = ∂L/∂Y (B×O): the gradient with respect to
    /// <c>[Ŵ, M̂]</c>, summed over the batch, and ∂L/∂X (B×I).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        int n = inputs * outputs;
        var wHat = parameters[..n];
        var mHat = parameters[n..(2 * n)];
        var w = Weights(wHat, mHat);
        var gradW = ReferenceMath.TransposedMultiply(dy, x, batch, outputs, inputs);   // δᵀ X  (O, I)
        var (gradWHat, gradMHat) = WeightBackward(gradW, wHat, mHat);
        var dx = ReferenceMath.Multiply(dy, w, batch, outputs, inputs);                // δ W   (B, I)
        return ([.. gradWHat, .. gradMHat], dx);
    }

    /// <summary>The effective weights <c>W = tanh(Ŵ) ⊙ σ(M̂)</c>, element by element.</summary>
    public static double[] Weights(ReadOnlySpan<double> wHat, ReadOnlySpan<double> mHat)
    {
        ReferenceMath.CheckLength(mHat, wHat.Length, nameof(mHat));
        var w = new double[wHat.Length];
        for (int k = 0; k < w.Length; k++)
            w[k] = Math.Tanh(wHat[k]) * ReferenceMath.Sigmoid(mHat[k]);
        return w;
    }

    /// <summary>
    /// Chain rule through <c>W = tanh(Ŵ) ⊙ σ(M̂)</c>, element by element: from ∂L/∂W to ∂L/∂Ŵ and ∂L/∂M̂.
    /// </summary>
    public static (double[] WHat, double[] MHat) WeightBackward(
        ReadOnlySpan<double> gradW, ReadOnlySpan<double> wHat, ReadOnlySpan<double> mHat)
    {
        ReferenceMath.CheckLength(wHat, gradW.Length, nameof(wHat));
        ReferenceMath.CheckLength(mHat, gradW.Length, nameof(mHat));
        var gradWHat = new double[gradW.Length];
        var gradMHat = new double[gradW.Length];
        for (int k = 0; k < gradW.Length; k++)
        {
            double t = Math.Tanh(wHat[k]);
            double s = ReferenceMath.Sigmoid(mHat[k]);
            gradWHat[k] = gradW[k] * (1 - t * t) * s;
            gradMHat[k] = gradW[k] * t * s * (1 - s);
        }

        return (gradWHat, gradMHat);
    }
}
