namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="LstmUnit"/>, one step of an LSTM cell, batched and in matrix form:
/// the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[W ((4H)×(F+H), row-major, gate blocks i, f, g, o), b (4H, same order)]</c>. Each sample's input is
/// <c>[x_t (F), h_{t−1} (H), c_{t−1} (H)]</c>, its output <c>[h_t (H), c_t (H)]</c>. With <c>U = [X_t, H_{t−1}]</c> (B×(F+H)):
/// <code>
/// A = U Wᵀ + b (B×4H), with forgetBias added to the f block
/// i = σ(A_i),  f = σ(A_f),  g = tanh(A_g),  o = σ(A_o)
/// C_t = f ⊙ C_{t−1} + i ⊙ g,  H_t = o ⊙ tanh(C_t)
/// </code>
/// Backward with <c>δh = ∂L/∂H_t</c>, <c>δc = ∂L/∂C_t</c>: <c>δc' = δc + δh ⊙ o ⊙ (1 − tanh²C_t)</c>;
/// <c>δA_i = δc' ⊙ g ⊙ i(1−i)</c>, <c>δA_f = δc' ⊙ C_{t−1} ⊙ f(1−f)</c>, <c>δA_g = δc' ⊙ i ⊙ (1−g²)</c>,
/// <c>δA_o = δh ⊙ tanh(C_t) ⊙ o(1−o)</c>; <c>∂L/∂W = δAᵀ U</c>, <c>∂L/∂b = Σ_batch δA</c>,
/// <c>∂L/∂U = δA W</c>, <c>∂L/∂C_{t−1} = δc' ⊙ f</c>.
/// </remarks>
public static class LstmReference
{
    /// <summary>Number of parameters: <c>4H(F+H)</c> weights and <c>4H</c> biases.</summary>
    public static int ParameterCount(int inputsPerStep, int hidden) => 4 * hidden * (inputsPerStep + hidden) + 4 * hidden;

    /// <summary>Forward pass: <c>[H_t, C_t]</c> (B×2H) from <c>[X_t, H_{t−1}, C_{t−1}]</c> (B×(F+2H)).</summary>
    public static double[] Forward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputsPerStep, int hidden, double forgetBias = 1)
    {
        var s = Step.Run(parameters, x, batch, inputsPerStep, hidden, forgetBias);
        var y = new double[batch * 2 * hidden];
        for (int b = 0; b < batch; b++)
        {
            for (int k = 0; k < hidden; k++)
            {
                int n = b * hidden + k;
                y[b * 2 * hidden + k] = s.O[n] * Math.Tanh(s.C[n]);
                y[b * 2 * hidden + hidden + k] = s.C[n];
            }
        }

        return y;
    }

    /// <summary>
    /// Backward pass given <paramref name="dy"/> = <c>[∂L/∂H_t, ∂L/∂C_t]</c> (B×2H): the gradient with respect to
    /// <c>[W, b]</c>, summed over the batch, and <c>[∂L/∂X_t, ∂L/∂H_{t−1}, ∂L/∂C_{t−1}]</c> (B×(F+2H)).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy,
        int batch, int inputsPerStep, int hidden, double forgetBias = 1)
    {
        var s = Step.Run(parameters, x, batch, inputsPerStep, hidden, forgetBias);
        ReferenceMath.CheckLength(dy, batch * 2 * hidden, nameof(dy));
        int width = inputsPerStep + hidden, rows = 4 * hidden, inputs = width + hidden;
        var da = new double[batch * rows];                                              // δA  (B, 4H)
        var dcPrev = new double[batch * hidden];                                        // ∂L/∂C_{t−1}  (B, H)
        for (int b = 0; b < batch; b++)
        {
            for (int k = 0; k < hidden; k++)
            {
                int n = b * hidden + k;
                double i = s.I[n], f = s.F[n], g = s.G[n], o = s.O[n], t = Math.Tanh(s.C[n]);
                double dh = dy[b * 2 * hidden + k];
                double dc = dy[b * 2 * hidden + hidden + k] + dh * o * (1 - t * t);
                int row = b * rows;
                da[row + k] = dc * g * i * (1 - i);
                da[row + hidden + k] = dc * x[b * inputs + width + k] * f * (1 - f);
                da[row + 2 * hidden + k] = dc * i * (1 - g * g);
                da[row + 3 * hidden + k] = dh * t * o * (1 - o);
                dcPrev[n] = dc * f;
            }
        }

        var weights = parameters[..(rows * width)];
        var gradW = ReferenceMath.TransposedMultiply(da, s.U, batch, rows, width);     // δAᵀ U  (4H, F+H)
        var gradB = new double[rows];
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
                gradB[r] += da[b * rows + r];
        }

        var du = ReferenceMath.Multiply(da, weights, batch, rows, width);              // δA W  (B, F+H)
        var dx = new double[batch * inputs];
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < width; j++)
                dx[b * inputs + j] = du[b * width + j];
            for (int k = 0; k < hidden; k++)
                dx[b * inputs + width + k] = dcPrev[b * hidden + k];
        }

        return ([.. gradW, .. gradB], dx);
    }

    /// <summary>The forward's intermediates: U (B×(F+H)), the gates and C_t (each B×H).</summary>
    private sealed record Step(double[] U, double[] I, double[] F, double[] G, double[] O, double[] C)
    {
        public static Step Run(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputsPerStep, int hidden, double forgetBias)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(inputsPerStep, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
            int width = inputsPerStep + hidden, rows = 4 * hidden, inputs = width + hidden;
            ReferenceMath.CheckShapes(parameters, ParameterCount(inputsPerStep, hidden), x, batch, inputs, 2 * hidden);
            var u = new double[batch * width];
            for (int b = 0; b < batch; b++)
            {
                for (int j = 0; j < width; j++)
                    u[b * width + j] = x[b * inputs + j];
            }

            var a = ReferenceMath.MultiplyTransposed(u, parameters[..(rows * width)], batch, width, rows);   // U Wᵀ  (B, 4H)
            var bias = parameters[(rows * width)..];
            var step = new Step(u, new double[batch * hidden], new double[batch * hidden], new double[batch * hidden],
                new double[batch * hidden], new double[batch * hidden]);
            for (int b = 0; b < batch; b++)
            {
                for (int k = 0; k < hidden; k++)
                {
                    int n = b * hidden + k, row = b * rows;
                    double i = ReferenceMath.Sigmoid(a[row + k] + bias[k]);
                    double f = ReferenceMath.Sigmoid(a[row + hidden + k] + bias[hidden + k] + forgetBias);
                    double g = Math.Tanh(a[row + 2 * hidden + k] + bias[2 * hidden + k]);
                    double o = ReferenceMath.Sigmoid(a[row + 3 * hidden + k] + bias[3 * hidden + k]);
                    step.I[n] = i;
                    step.F[n] = f;
                    step.G[n] = g;
                    step.O[n] = o;
                    step.C[n] = f * x[b * inputs + width + k] + i * g;
                }
            }

            return step;
        }
    }
}
