namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="PReluDenseUnit"/>, batched and in matrix form:
/// the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[W (O×I, row-major), b (O), α (1)]</c>. <c>Z = X Wᵀ + b</c>, <c>Y = Z</c> where
/// <c>Z &gt; 0</c>, <c>α Z</c> elsewhere (one α for the whole layer, as <c>torch.nn.PReLU()</c>).
/// Backward with <c>δz = δ ⊙ f'(Z)</c>, <c>f'(z) = 1</c> for <c>z &gt; 0</c> and α otherwise (PyTorch's choice at 0):
/// <c>∂L/∂W = δzᵀ X</c>, <c>∂L/∂b = Σ_batch δz</c>, <c>∂L/∂α = Σ_batch Σ_o δ ⊙ min(Z, 0)</c>, <c>∂L/∂X = δz W</c>.
/// </remarks>
public static class PReluDenseReference
{
    /// <summary>Number of parameters: O·I weights, O biases and one slope.</summary>
    public static int ParameterCount(int inputs, int outputs) => inputs * outputs + outputs + 1;

    /// <summary>The points where f is not differentiable in z; finite-difference checks stay away from them.</summary>
    public static double[] Kinks => [0];

    /// <summary>Forward pass: <c>Y = PReLU(X Wᵀ + b)</c> (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        var z = PreActivation(parameters, x, batch, inputs, outputs);
        double alpha = parameters[^1];
        var y = new double[z.Length];
        for (int k = 0; k < y.Length; k++)
            y[k] = z[k] > 0 ? z[k] : alpha * z[k];
        return y;
    }

    /// <summary>
    /// Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×O): the gradient with respect to <c>[W, b, α]</c>,
    /// summed over the batch, and ∂L/∂X (B×I).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        var z = PreActivation(parameters, x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        double alpha = parameters[^1];
        var dz = new double[z.Length];                                                  // δz  (B, O)
        double gradAlpha = 0;
        for (int k = 0; k < dz.Length; k++)
        {
            dz[k] = z[k] > 0 ? dy[k] : dy[k] * alpha;
            gradAlpha += z[k] > 0 ? 0 : dy[k] * z[k];
        }

        var gradW = ReferenceMath.TransposedMultiply(dz, x, batch, outputs, inputs);    // δzᵀ X  (O, I)
        var gradB = new double[outputs];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
                gradB[o] += dz[b * outputs + o];
        }

        var dx = ReferenceMath.Multiply(dz, parameters[..(inputs * outputs)], batch, outputs, inputs);
        return ([.. gradW, .. gradB, gradAlpha], dx);
    }

    private static double[] PreActivation(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        var z = ReferenceMath.MultiplyTransposed(x, parameters[..(inputs * outputs)], batch, inputs, outputs);
        var bias = parameters.Slice(inputs * outputs, outputs);
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
                z[b * outputs + o] += bias[o];
        }

        return z;
    }
}
