namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NmuUnit"/>, straight from the specification: the executable
/// specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: W (O×I, row-major), used directly. Factors <c>f_boi = W_oi x_bi + 1 − W_oi</c>, <c>Y_bo = Π_i f_boi</c>.
/// Backward with δ = ∂L/∂Y and the product of the OTHER factors <c>R_boi = Π_{j≠i} f_boj</c> (computed as that product,
/// never as Y/f, which is 0/0 at a zero factor): <c>∂L/∂W_oi = Σ_b δ_bo R_boi (x_bi − 1)</c>,
/// <c>∂L/∂X_bi = Σ_o δ_bo R_boi W_oi</c>. The clamp to [0, 1] is <see cref="Constrain"/>.
/// </remarks>
public static class NmuReference
{
    /// <summary>Number of parameters: O·I.</summary>
    public static int ParameterCount(int inputs, int outputs) => inputs * outputs;

    /// <summary>Forward pass: <c>Y_bo = Π_i (W_oi x_bi + 1 − W_oi)</c> (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        var y = new double[batch * outputs];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
                y[b * outputs + o] = ProductExcept(parameters, x, b, o, inputs, skip: -1);
        }

        return y;
    }

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×O): ∂L/∂W (summed over the batch) and ∂L/∂X (B×I).</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        var gradW = new double[outputs * inputs];
        var dx = new double[batch * inputs];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double delta = dy[b * outputs + o];
                for (int i = 0; i < inputs; i++)
                {
                    double others = delta * ProductExcept(parameters, x, b, o, inputs, skip: i);
                    gradW[o * inputs + i] += others * (x[b * inputs + i] - 1);
                    dx[b * inputs + i] += others * parameters[o * inputs + i];
                }
            }
        }

        return (gradW, dx);
    }

    /// <summary>The constraint: every weight clamped to [0, 1].</summary>
    public static double[] Constrain(ReadOnlySpan<double> parameters)
    {
        var w = parameters.ToArray();
        for (int k = 0; k < w.Length; k++)
            w[k] = Math.Min(1, Math.Max(0, w[k]));
        return w;
    }

    /// <summary><c>Π_{i ≠ skip} (W_oi x_bi + 1 − W_oi)</c>.</summary>
    private static double ProductExcept(ReadOnlySpan<double> w, ReadOnlySpan<double> x, int b, int o, int inputs, int skip)
    {
        double product = 1;
        for (int i = 0; i < inputs; i++)
        {
            if (i != skip)
                product *= w[o * inputs + i] * x[b * inputs + i] + 1 - w[o * inputs + i];
        }

        return product;
    }
}
