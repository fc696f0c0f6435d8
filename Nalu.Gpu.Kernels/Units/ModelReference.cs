namespace Nalu.Gpu.Kernels.Units;

/// <summary>The unit type of one <see cref="ReferenceLayer"/>.</summary>
public enum ReferenceUnitKind
{
    /// <summary><see cref="NacReference"/>.</summary>
    Nac,
    /// <summary><see cref="NacMultReference"/>.</summary>
    NacMult,
    /// <summary><see cref="NaluReference"/> (tied, or untied with <see cref="ReferenceLayer.Untied"/>).</summary>
    Nalu,
    /// <summary><see cref="DenseReference"/> with <see cref="ReferenceLayer.Activation"/>.</summary>
    Dense,
    /// <summary><see cref="NauReference"/>.</summary>
    Nau,
    /// <summary><see cref="NmuReference"/>.</summary>
    Nmu,
    /// <summary><see cref="NpuReference"/>.</summary>
    Npu,
    /// <summary><see cref="RealNpuReference"/>.</summary>
    RealNpu,
    /// <summary><see cref="NmruReference"/>.</summary>
    Nmru,
    /// <summary><see cref="INaluReference"/>.</summary>
    INalu,
    /// <summary><see cref="SnmuReference"/> at inference (the plain NMU: a model reference has no training noise).</summary>
    Snmu,
}

/// <summary>One layer of a <see cref="ModelReference"/>: a unit type and its widths.</summary>
public readonly record struct ReferenceLayer
{
    /// <summary>A layer; <paramref name="untied"/> is for NALU only, <paramref name="activation"/> for dense only.</summary>
    public ReferenceLayer(
        ReferenceUnitKind kind, int inputs, int outputs, bool untied = false, ReferenceActivation activation = ReferenceActivation.Linear,
        bool inputIndependentGate = false)
    {
        if (inputIndependentGate && kind != ReferenceUnitKind.Nalu)
            throw new ArgumentException($"Only NALU layers have the input-independent gate option, not {kind}.", nameof(inputIndependentGate));
        InputIndependentGate = inputIndependentGate;
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        if (untied && kind != ReferenceUnitKind.Nalu)
            throw new ArgumentException($"Only NALU layers can be untied, not {kind}.", nameof(untied));
        if (activation != ReferenceActivation.Linear && kind != ReferenceUnitKind.Dense)
            throw new ArgumentException($"Only dense layers have an activation, not {kind}.", nameof(activation));
        Kind = kind;
        Inputs = inputs;
        Outputs = outputs;
        Untied = untied;
        Activation = activation;
    }

    /// <summary>The unit type.</summary>
    public ReferenceUnitKind Kind { get; }
    /// <summary>Input width I.</summary>
    public int Inputs { get; }
    /// <summary>Output width O.</summary>
    public int Outputs { get; }
    /// <summary>NALU only: separate weights for the additive and multiplicative paths.</summary>
    public bool Untied { get; }
    /// <summary>NALU only: the gate is <c>σ(G)</c> with one G per output.</summary>
    public bool InputIndependentGate { get; }
    /// <summary>Dense only: the activation.</summary>
    public ReferenceActivation Activation { get; }

    /// <summary>A NAC layer.</summary>
    public static ReferenceLayer Nac(int inputs, int outputs) => new(ReferenceUnitKind.Nac, inputs, outputs);
    /// <summary>A NAC• layer.</summary>
    public static ReferenceLayer NacMult(int inputs, int outputs) => new(ReferenceUnitKind.NacMult, inputs, outputs);
    /// <summary>A NALU layer, tied unless <paramref name="untied"/>.</summary>
    public static ReferenceLayer Nalu(int inputs, int outputs, bool untied = false, bool inputIndependentGate = false) =>
        new(ReferenceUnitKind.Nalu, inputs, outputs, untied, ReferenceActivation.Linear, inputIndependentGate);
    /// <summary>A complex NPU layer.</summary>
    public static ReferenceLayer Npu(int inputs, int outputs) => new(ReferenceUnitKind.Npu, inputs, outputs);
    /// <summary>A real NPU layer.</summary>
    public static ReferenceLayer RealNpu(int inputs, int outputs) => new(ReferenceUnitKind.RealNpu, inputs, outputs);
    /// <summary>An NMRU layer.</summary>
    public static ReferenceLayer Nmru(int inputs, int outputs) => new(ReferenceUnitKind.Nmru, inputs, outputs);
    /// <summary>An iNALU layer (unit math only).</summary>
    public static ReferenceLayer INalu(int inputs, int outputs) => new(ReferenceUnitKind.INalu, inputs, outputs);
    /// <summary>An sNMU layer, at inference.</summary>
    public static ReferenceLayer Snmu(int inputs, int outputs) => new(ReferenceUnitKind.Snmu, inputs, outputs);
    /// <summary>An NAU layer.</summary>
    public static ReferenceLayer Nau(int inputs, int outputs) => new(ReferenceUnitKind.Nau, inputs, outputs);
    /// <summary>An NMU layer.</summary>
    public static ReferenceLayer Nmu(int inputs, int outputs) => new(ReferenceUnitKind.Nmu, inputs, outputs);
    /// <summary>A dense layer with bias and <paramref name="activation"/>.</summary>
    public static ReferenceLayer Dense(int inputs, int outputs, ReferenceActivation activation) =>
        new(ReferenceUnitKind.Dense, inputs, outputs, false, activation);

    /// <summary>Number of parameters of this layer, in the unit's layout.</summary>
    public int ParameterCount => Kind switch
    {
        ReferenceUnitKind.Nac => NacReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.NacMult => NacMultReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.Nalu => NaluReference.ParameterCount(Inputs, Outputs, Untied, InputIndependentGate),
        ReferenceUnitKind.Nau => NauReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.Nmu => NmuReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.Npu => NpuReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.RealNpu => RealNpuReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.Nmru => NmruReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.INalu => INaluReference.ParameterCount(Inputs, Outputs),
        ReferenceUnitKind.Snmu => SnmuReference.ParameterCount(Inputs, Outputs),
        _ => DenseReference.ParameterCount(Inputs, Outputs),
    };

    /// <summary>This layer's forward pass (B×O) through its unit's reference.</summary>
    public double[] Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch) => Kind switch
    {
        ReferenceUnitKind.Nac => NacReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.NacMult => NacMultReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.Nalu => NaluReference.Forward(parameters, x, batch, Inputs, Outputs, Untied, InputIndependentGate),
        ReferenceUnitKind.Nau => NauReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.Nmu => NmuReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.Npu => NpuReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.RealNpu => RealNpuReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.Nmru => NmruReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.INalu => INaluReference.Forward(parameters, x, batch, Inputs, Outputs),
        ReferenceUnitKind.Snmu => SnmuReference.Forward(parameters, x, null, batch, Inputs, Outputs),
        _ => DenseReference.Forward(parameters, x, batch, Inputs, Outputs, Activation),
    };

    /// <summary>This layer's backward pass through its unit's reference.</summary>
    public (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch) => Kind switch
    {
        ReferenceUnitKind.Nac => NacReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.NacMult => NacMultReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.Nalu => NaluReference.Backward(parameters, x, dy, batch, Inputs, Outputs, Untied, InputIndependentGate),
        ReferenceUnitKind.Nau => NauReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.Nmu => NmuReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.Npu => NpuReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.RealNpu => RealNpuReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.Nmru => NmruReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.INalu => INaluReference.Backward(parameters, x, dy, batch, Inputs, Outputs),
        ReferenceUnitKind.Snmu => SnmuReference.Backward(parameters, x, null, dy, batch, Inputs, Outputs),
        _ => DenseReference.Backward(parameters, x, dy, batch, Inputs, Outputs, Activation),
    };

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        ReferenceUnitKind.Nalu when Untied || InputIndependentGate => $"Nalu{(Untied ? "Untied" : "")}{(InputIndependentGate ? "Gate" : "")}({Inputs}→{Outputs})",
        ReferenceUnitKind.Dense => $"Dense<{Activation}>({Inputs}→{Outputs})",
        _ => $"{Kind}({Inputs}→{Outputs})",
    };
}

/// <summary>
/// Plain double-precision reference of a model: layers in sequence, each through its unit's reference.
/// The reference of <see cref="Chain{THead,TTail}"/>: <c>Chain&lt;A, Chain&lt;B, C&gt;&gt;</c> is the layer list [A, B, C].
/// </summary>
/// <remarks>
/// Parameters: the blocks of the layers one after another, each in its unit's layout (the layout of the
/// chain). Backward runs the layers in reverse, the input gradient of one being the output gradient
/// of the layer before.
/// </remarks>
public static class ModelReference
{
    /// <summary>Total parameters of the layers.</summary>
    public static int ParameterCount(ReadOnlySpan<ReferenceLayer> layers)
    {
        int count = 0;
        foreach (var layer in layers)
            count += layer.ParameterCount;
        return count;
    }

    /// <summary>Forward pass of the model: (B × last layer's O).</summary>
    public static double[] Forward(ReadOnlySpan<ReferenceLayer> layers, ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch)
    {
        CheckLayers(layers, parameters);
        double[] input = x.ToArray();
        int offset = 0;
        foreach (var layer in layers)
        {
            input = layer.Forward(parameters.Slice(offset, layer.ParameterCount), input, batch);
            offset += layer.ParameterCount;
        }

        return input;
    }

    /// <summary>
    /// Backward pass of the model given <paramref name="dy"/> = ∂L/∂Y: the gradient with respect to all
    /// parameters (each layer's block in its layout, summed over the batch) and ∂L/∂X (B × first layer's I).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<ReferenceLayer> layers, ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy, int batch)
    {
        CheckLayers(layers, parameters);
        var inputs = new double[layers.Length][];
        var offsets = new int[layers.Length];
        inputs[0] = x.ToArray();
        for (int l = 0; l + 1 < layers.Length; l++)
        {
            offsets[l + 1] = offsets[l] + layers[l].ParameterCount;
            inputs[l + 1] = layers[l].Forward(parameters.Slice(offsets[l], layers[l].ParameterCount), inputs[l], batch);
        }

        var gradient = new double[parameters.Length];
        double[] upstream = dy.ToArray();
        for (int l = layers.Length - 1; l >= 0; l--)
        {
            var (layerGradient, dx) = layers[l].Backward(parameters.Slice(offsets[l], layers[l].ParameterCount), inputs[l], upstream, batch);
            layerGradient.CopyTo(gradient, offsets[l]);
            upstream = dx;
        }

        return (gradient, upstream);
    }

    private static void CheckLayers(ReadOnlySpan<ReferenceLayer> layers, ReadOnlySpan<double> parameters)
    {
        if (layers.IsEmpty)
            throw new ArgumentException("A model needs at least one layer.", nameof(layers));
        for (int l = 0; l + 1 < layers.Length; l++)
        {
            if (layers[l].Outputs != layers[l + 1].Inputs)
            {
                throw new ArgumentException(
                    $"Layer widths do not chain: layer {l} ({layers[l]}) feeds layer {l + 1} ({layers[l + 1]}).", nameof(layers));
            }
        }

        ReferenceMath.CheckLength(parameters, ParameterCount(layers), nameof(parameters));
    }
}

/// <summary>
/// Double-precision building blocks of the references: dense row-major matrix products and the scalar
/// hazard decisions of <see cref="UnitMath"/>, restated in double.
/// </summary>
internal static class ReferenceMath
{
    /// <summary>ε in <c>log(|x| + ε)</c>.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>Exponents at or above this are clamped to it and pass no gradient.</summary>
    public const double MaxExponent = 88;

    public static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    public static bool IsClamped(double z) => z >= MaxExponent;

    /// <summary><c>sign(x)/(|x| + ε)</c> with sign(0) = 0 (and NaN passed through, where Math.Sign would throw).</summary>
    public static double LogAbsDerivative(double x) => x > 0 ? 1 / (x + Epsilon) : x < 0 ? -1 / (-x + Epsilon) : x * 0;

    /// <summary>Elementwise <c>log(|x| + ε)</c>.</summary>
    public static double[] LogAbs(ReadOnlySpan<double> x)
    {
        var logs = new double[x.Length];
        for (int k = 0; k < x.Length; k++)
            logs[k] = Math.Log(Math.Abs(x[k]) + Epsilon);
        return logs;
    }

    /// <summary>Elementwise <c>exp(min(z, 88))</c>.</summary>
    public static double[] ClampedExp(ReadOnlySpan<double> z)
    {
        var e = new double[z.Length];
        for (int k = 0; k < z.Length; k++)
            e[k] = Math.Exp(Math.Min(z[k], MaxExponent));
        return e;
    }

    /// <summary><c>a bᵀ</c>: a (rows×inner), b (cols×inner) → (rows×cols).</summary>
    public static double[] MultiplyTransposed(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int rows, int inner, int cols)
    {
        var c = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                double sum = 0;
                for (int k = 0; k < inner; k++)
                    sum += a[r * inner + k] * b[j * inner + k];
                c[r * cols + j] = sum;
            }
        }

        return c;
    }

    /// <summary><c>aᵀ b</c>: a (inner×rows), b (inner×cols) → (rows×cols).</summary>
    public static double[] TransposedMultiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int inner, int rows, int cols)
    {
        var c = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                double sum = 0;
                for (int k = 0; k < inner; k++)
                    sum += a[k * rows + r] * b[k * cols + j];
                c[r * cols + j] = sum;
            }
        }

        return c;
    }

    /// <summary><c>a b</c>: a (rows×inner), b (inner×cols) → (rows×cols).</summary>
    public static double[] Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int rows, int inner, int cols)
    {
        var c = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                double sum = 0;
                for (int k = 0; k < inner; k++)
                    sum += a[r * inner + k] * b[k * cols + j];
                c[r * cols + j] = sum;
            }
        }

        return c;
    }

    /// <summary>
    /// A weight regulariser's value in double: <c>strength(step) · Σ penalty(w)</c>, divided by the count for the
    /// sparsity kinds (a mean) — what <see cref="IUnit.Regularize"/> differentiates.
    /// </summary>
    public static double Penalty(ReadOnlySpan<double> weights, RegularizerSettings regularizer, int step)
    {
        double sum = 0;
        foreach (double w in weights)
        {
            double a = Math.Abs(w);
            sum += regularizer.Kind switch
            {
                RegularizerKind.SparsityLinear => Math.Min(a, 1 - a),
                RegularizerKind.SparsitySquared => w * w * (1 - a) * (1 - a),
                RegularizerKind.L1 => a,
                _ => 0,
            };
        }

        return regularizer.StrengthAt(step) * (regularizer.IsMean ? sum / weights.Length : sum);
    }

    public static void CheckShapes(ReadOnlySpan<double> parameters, int parameterCount, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        CheckLength(parameters, parameterCount, nameof(parameters));
        CheckLength(x, batch * inputs, nameof(x));
    }

    public static void CheckLength(ReadOnlySpan<double> values, int expected, string name)
    {
        if (values.Length != expected)
            throw new ArgumentException($"{name} has {values.Length} values; {expected} expected.", name);
    }
}
