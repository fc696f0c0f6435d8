namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="NmruUnit"/>: the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>W (O×2I)</c>, row-major. <c>U = [X, 1/(X + sign(X)·ε)]</c> (B×2I, ε = 2⁻²³, sign(0) = +1),
/// <c>Y_bo = Π_j (W_oj U_bj + 1 − W_oj)</c>. Backward with δ = ∂L/∂Y and <c>P_boj = Π_{k≠j} (W_ok U_bk + 1 − W_ok)</c>
/// (computed as that product, never by division): <c>∂L/∂W_oj = Σ_b δ_bo (U_bj − 1) P_boj</c>,
/// <c>∂L/∂X_bi = Σ_o δ_bo (W_oi P_boi − W_o,I+i P_bo,I+i U_b,I+i²)</c>.
/// </remarks>
public static class NmruReference
{
    /// <summary>Number of parameters: 2·O·I.</summary>
    public static int ParameterCount(int inputs, int outputs) => 2 * inputs * outputs;

    /// <summary>Forward pass (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        int width = 2 * inputs;
        var y = new double[batch * outputs];
        for (int b = 0; b < batch; b++)
        {
            var u = Concatenate(x.Slice(b * inputs, inputs));
            for (int o = 0; o < outputs; o++)
                y[b * outputs + o] = Product(parameters.Slice(o * width, width), u, skip: -1);
        }

        return y;
    }

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y: the parameter gradient (summed over the batch) and ∂L/∂X.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        int width = 2 * inputs;
        var gradient = new double[parameters.Length];
        var dx = new double[batch * inputs];
        for (int b = 0; b < batch; b++)
        {
            var u = Concatenate(x.Slice(b * inputs, inputs));
            for (int o = 0; o < outputs; o++)
            {
                var row = parameters.Slice(o * width, width);
                double delta = dy[b * outputs + o];
                for (int j = 0; j < width; j++)
                {
                    double others = Product(row, u, skip: j);
                    gradient[o * width + j] += delta * (u[j] - 1) * others;
                    double du = delta * row[j] * others;
                    dx[b * inputs + j % inputs] += j < inputs ? du : -du * u[j] * u[j];
                }
            }
        }

        return (gradient, dx);
    }

    /// <summary>The sparsity penalty <c>λ(step)·mean(min(W, 1 − W))</c> (or the squared shape) over all weights.</summary>
    public static double Penalty(ReadOnlySpan<double> parameters, RegularizerSettings regularizer, int step) =>
        ReferenceMath.Penalty(parameters, regularizer, step);

    /// <summary><c>1/(x + sign(x)·ε)</c>, ε = 2⁻²³, sign(0) = +1.</summary>
    public static double Reciprocal(double x) => 1 / (x < 0 ? x - Epsilon : x + Epsilon);

    private const double Epsilon = 1.0 / (1 << 23);

    private static double[] Concatenate(ReadOnlySpan<double> x)
    {
        var u = new double[2 * x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            u[i] = x[i];
            u[x.Length + i] = Reciprocal(x[i]);
        }

        return u;
    }

    private static double Product(ReadOnlySpan<double> w, double[] u, int skip)
    {
        double product = 1;
        for (int j = 0; j < u.Length; j++)
        {
            if (j != skip)
                product *= w[j] * u[j] + 1 - w[j];
        }

        return product;
    }
}
