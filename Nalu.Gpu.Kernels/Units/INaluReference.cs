namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Plain double-precision reference of <see cref="INaluUnit"/> (iNALU's unit math): the executable specification the
/// kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[Ŵa, M̂a, Ŵm, M̂m]</c> (O×I each), then G (O).
/// <code>
/// Wa = tanh(Ŵa) ⊙ σ(M̂a),  Wm = tanh(Ŵm) ⊙ σ(M̂m),  Λ = log(max(|X|, ε))
/// A = X Waᵀ,  Zm = Λ Wmᵀ,  E = exp(min(Zm, 20)),  S_bo = Π_i (sign(X_bi)|Wm_oi| + 1 − |Wm_oi|)
/// M = E ⊙ clamp(S, −1, 1),  γ = σ(G),  Y = γ ⊙ A + (1 − γ) ⊙ M
/// </code>
/// Backward as documented on <see cref="INaluUnit"/>; the product of the other sign factors is computed as that product.
/// </remarks>
public static class INaluReference
{
    /// <summary>Number of parameters: 4·O·I + O.</summary>
    public static int ParameterCount(int inputs, int outputs) => 4 * inputs * outputs + outputs;

    /// <summary>Forward pass (B×O).</summary>
    public static double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs) =>
        Run(parameters, x, null, batch, inputs, outputs).Y;

    /// <summary>Backward pass given <paramref name="dy"/> = ∂L/∂Y: the parameter gradient (summed over the batch, through tanh·σ) and ∂L/∂X.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        var (_, gp, gx) = Run(parameters, x, dy.ToArray(), batch, inputs, outputs);
        return (gp, gx);
    }

    private static (double[] Y, double[] ParameterGradient, double[] InputGradient) Run(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, double[]? dy, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        int n = inputs * outputs;
        var wa = NacReference.Weights(parameters[..n], parameters[n..(2 * n)]);
        var wm = NacReference.Weights(parameters[(2 * n)..(3 * n)], parameters[(3 * n)..(4 * n)]);
        var y = new double[batch * outputs];
        var gWa = new double[n];
        var gWm = new double[n];
        var gG = new double[outputs];
        var dx = new double[batch * inputs];
        for (int b = 0; b < batch; b++)
        {
            var xb = x.Slice(b * inputs, inputs);
            for (int o = 0; o < outputs; o++)
            {
                double a = 0, zm = 0;
                for (int i = 0; i < inputs; i++)
                {
                    a += wa[o * inputs + i] * xb[i];
                    zm += wm[o * inputs + i] * Math.Log(Math.Max(Math.Abs(xb[i]), ReferenceMath.Epsilon));
                }

                double e = Math.Exp(Math.Min(zm, INaluUnit.MaxExponent));
                double s = SignProduct(xb, wm.AsSpan(o * inputs, inputs), skip: -1);
                double clipped = Math.Clamp(s, -1, 1);
                double m = e * clipped;
                double gamma = ReferenceMath.Sigmoid(parameters[4 * n + o]);
                y[b * outputs + o] = gamma * a + (1 - gamma) * m;
                if (dy is null)
                    continue;

                double delta = dy[b * outputs + o];
                double da = delta * gamma, dm = delta * (1 - gamma);
                double dzm = zm < INaluUnit.MaxExponent ? dm * clipped * e : 0;
                double ds = s is >= -1 and <= 1 ? dm * e : 0;
                gG[o] += delta * (a - m) * gamma * (1 - gamma);
                for (int i = 0; i < inputs; i++)
                {
                    int k = o * inputs + i;
                    double xi = xb[i];
                    gWa[k] += da * xi;
                    gWm[k] += dzm * Math.Log(Math.Max(Math.Abs(xi), ReferenceMath.Epsilon))
                        + ds * SignProduct(xb, wm.AsSpan(o * inputs, inputs), skip: i) * (Math.Sign(xi) - 1) * Math.Sign(wm[k]);
                    dx[b * inputs + i] += da * wa[k] + (Math.Abs(xi) > ReferenceMath.Epsilon ? dzm * wm[k] / xi : 0);
                }
            }
        }

        if (dy is null)
            return (y, [], []);
        var (aWHat, aMHat) = NacReference.WeightBackward(gWa, parameters[..n], parameters[n..(2 * n)]);
        var (mWHat, mMHat) = NacReference.WeightBackward(gWm, parameters[(2 * n)..(3 * n)], parameters[(3 * n)..(4 * n)]);
        return (y, [.. aWHat, .. aMHat, .. mWHat, .. mMHat, .. gG], dx);
    }

    /// <summary>
    /// The saturation regulariser of <paramref name="recipe"/> at <paramref name="step"/> for a step whose batch MSE is
    /// <paramref name="loss"/>: <c>s · (1/n) Σ_v max(20 − |v|, 0)</c> over all n parameters, or 0 when it does not apply.
    /// </summary>
    public static double SaturationLoss(ReadOnlySpan<double> parameters, INaluRecipe recipe, int step, double loss)
    {
        if (!SaturationApplies(recipe, step, loss))
            return 0;
        double sum = 0;
        foreach (double v in parameters)
            sum += Math.Max(INaluUnit.MaxExponent - Math.Abs(v), 0);
        return recipe.Saturation * sum / parameters.Length;
    }

    /// <summary>∂<see cref="SaturationLoss"/>/∂parameters (at v = 0: 0; at |v| = 20: 0).</summary>
    public static double[] SaturationGradient(ReadOnlySpan<double> parameters, INaluRecipe recipe, int step, double loss)
    {
        var g = new double[parameters.Length];
        if (!SaturationApplies(recipe, step, loss))
            return g;
        for (int k = 0; k < g.Length; k++)
            g[k] = Math.Abs(parameters[k]) < INaluUnit.MaxExponent ? -recipe.Saturation * Math.Sign(parameters[k]) / parameters.Length : 0;
        return g;
    }

    /// <summary>Whether parameter <paramref name="parameter"/> of an I→O layer trains at <paramref name="step"/> under <paramref name="recipe"/>.</summary>
    public static bool Trains(INaluRecipe recipe, int inputs, int outputs, int parameter, int step)
    {
        if (recipe.Alternate == 0)
            return true;
        bool weight = parameter < 4 * inputs * outputs;
        bool weightStep = step % 10 < 8;
        return weight == weightStep;
    }

    private static bool SaturationApplies(INaluRecipe recipe, int step, double loss) =>
        recipe.Saturation > 0 && step >= recipe.SaturationStart && loss < recipe.SaturationLossBelow;

    private static double SignProduct(ReadOnlySpan<double> x, ReadOnlySpan<double> w, int skip)
    {
        double product = 1;
        for (int i = 0; i < x.Length; i++)
        {
            if (i != skip)
                product *= Math.Sign(x[i]) * Math.Abs(w[i]) + 1 - Math.Abs(w[i]);
        }

        return product;
    }
}
