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

    /// <summary>
    /// Forward: the first <paramref name="readout"/> values of <c>h_T</c> (B × K), or with <paramref name="everyStep"/> those
    /// of every <c>h_1 … h_T</c> (B × T·K, step-major).
    /// </summary>
    public static double[] Forward(CellForward cell, ReadOnlySpan<double> x, int batch, int steps, int inputsPerStep, int state, int readout,
        bool everyStep = false)
    {
        var states = States(cell, x, batch, steps, inputsPerStep, state);
        int read = everyStep ? steps : 1;
        var y = new double[batch * read * readout];
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < read; r++)
                Array.Copy(states[steps - read + r], b * state, y, (b * read + r) * readout, readout);
        }

        return y;
    }

    /// <summary>
    /// Backpropagation through time from <paramref name="dy"/> = ∂L/∂y (B × K, or B × T·K with <paramref name="everyStep"/>):
    /// the parameter gradient summed over steps and batch, and ∂L/∂x (B × T·F).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        CellForward forward, CellBackward backward, ReadOnlySpan<double> x, ReadOnlySpan<double> dy,
        int batch, int steps, int inputsPerStep, int state, int readout, bool everyStep = false)
    {
        int read = everyStep ? steps : 1;
        ReferenceMath.CheckLength(dy, batch * read * readout, nameof(dy));
        var states = States(forward, x, batch, steps, inputsPerStep, state);
        var dh = new double[batch * state];
        var outputGradient = dy.ToArray();
        // ∂L/∂h_t from the output read at step t (t counted from 0; only the last one without everyStep).
        void AddOutputGradient(double[] into, int t)
        {
            int r = t - (steps - read);
            if (r < 0)
                return;
            for (int b = 0; b < batch; b++)
            {
                for (int k = 0; k < readout; k++)
                    into[b * state + k] += outputGradient[(b * read + r) * readout + k];
            }
        }

        AddOutputGradient(dh, steps - 1);

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

            if (t > 0)
                AddOutputGradient(dh, t - 1);
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
