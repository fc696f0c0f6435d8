namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Double-precision reference of <see cref="RecurrentUnit{TCell}"/>: the cell's own reference unrolled over T steps, and
/// backpropagation through time written out step by step, independently of the kernel code. The cell is given as its
/// batched reference forward and backward (e.g. a <see cref="ReferenceLayer"/>'s, with its parameters bound).
/// </summary>
public static class RecurrentReference
{
    /// <summary>A cell's batched forward: (B × (F+S)) → (B × S).</summary>
    public delegate double[] CellForward(double[] z, int batch);

    /// <summary>A cell's batched backward: given its input z and ∂L/∂y, the parameter gradient (summed over the batch) and ∂L/∂z.</summary>
    public delegate (double[] ParameterGradient, double[] InputGradient) CellBackward(double[] z, double[] dy, int batch);

    /// <summary>The states <c>h_1 … h_T</c> ((T, B, S)) of sequences x (B × T·F), from <c>h_0 = 0</c>.</summary>
    public static double[][] States(CellForward cell, ReadOnlySpan<double> x, int batch, int steps, int inputsPerStep, int state)
    {
        ReferenceMath.CheckLength(x, batch * steps * inputsPerStep, nameof(x));
        var states = new double[steps][];
        var h = new double[batch * state];
        for (int t = 0; t < steps; t++)
        {
            h = cell(Input(x, h, batch, steps, inputsPerStep, state, t), batch);
            ReferenceMath.CheckLength(h, batch * state, "cell output");
            states[t] = h;
        }

        return states;
    }

    /// <summary>Forward: the first <paramref name="readout"/> values of <c>h_T</c> (B × K).</summary>
    public static double[] Forward(CellForward cell, ReadOnlySpan<double> x, int batch, int steps, int inputsPerStep, int state, int readout)
    {
        var last = States(cell, x, batch, steps, inputsPerStep, state)[^1];
        var y = new double[batch * readout];
        for (int b = 0; b < batch; b++)
            Array.Copy(last, b * state, y, b * readout, readout);
        return y;
    }

    /// <summary>
    /// Backpropagation through time from <paramref name="dy"/> = ∂L/∂y (B × K): the parameter gradient summed over steps
    /// and batch, and ∂L/∂x (B × T·F).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        CellForward forward, CellBackward backward, ReadOnlySpan<double> x, ReadOnlySpan<double> dy,
        int batch, int steps, int inputsPerStep, int state, int readout)
    {
        ReferenceMath.CheckLength(dy, batch * readout, nameof(dy));
        var states = States(forward, x, batch, steps, inputsPerStep, state);
        var dh = new double[batch * state];
        for (int b = 0; b < batch; b++)
        {
            for (int k = 0; k < readout; k++)
                dh[b * state + k] = dy[b * readout + k];
        }

        double[]? gradient = null;
        var dx = new double[batch * steps * inputsPerStep];
        int width = inputsPerStep + state;
        for (int t = steps - 1; t >= 0; t--)
        {
            var previous = t > 0 ? states[t - 1] : new double[batch * state];
            var (g, dz) = backward(Input(x, previous, batch, steps, inputsPerStep, state, t), dh, batch);
            if (gradient is null)
                gradient = g;
            else
            {
                for (int j = 0; j < g.Length; j++)
                    gradient[j] += g[j];
            }

            dh = new double[batch * state];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < inputsPerStep; i++)
                    dx[(b * steps + t) * inputsPerStep + i] = dz[b * width + i];
                for (int k = 0; k < state; k++)
                    dh[b * state + k] = dz[b * width + inputsPerStep + k];
            }
        }

        return (gradient!, dx);
    }

    // z_t = [x_t, h_{t−1}] for every sample (B × (F+S)).
    private static double[] Input(ReadOnlySpan<double> x, double[] h, int batch, int steps, int inputsPerStep, int state, int t)
    {
        int width = inputsPerStep + state;
        var z = new double[batch * width];
        for (int b = 0; b < batch; b++)
        {
            x.Slice((b * steps + t) * inputsPerStep, inputsPerStep).CopyTo(z.AsSpan(b * width));
            Array.Copy(h, b * state, z, b * width + inputsPerStep, state);
        }

        return z;
    }
}
