namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// The activations of <see cref="DenseReference"/>, one per <see cref="IActivation"/> struct of the kernels.
/// </summary>
public enum ReferenceActivation
{
    /// <summary>Identity; reference of <see cref="Units.Linear"/>.</summary>
    Linear,
    /// <summary>max(0, z), derivative 0 at 0; reference of <see cref="Units.Relu"/>.</summary>
    Relu,
    /// <summary>min(max(0, z), 6), derivative 1 on (0, 6); reference of <see cref="Units.Relu6"/>.</summary>
    Relu6,
    /// <summary>tanh(z); reference of <see cref="Units.Tanh"/>.</summary>
    Tanh,
    /// <summary>σ(z); reference of <see cref="Units.Sigmoid"/>.</summary>
    Sigmoid,
    /// <summary>ELU, α = 1; reference of <see cref="Units.Elu"/>.</summary>
    Elu,
    /// <summary>SELU with PyTorch's constants; reference of <see cref="Units.Selu"/>.</summary>
    Selu,
    /// <summary>log(1 + e^z); reference of <see cref="Units.Softplus"/>.</summary>
    Softplus,
    /// <summary>Leaky ReLU, slope 0.01, derivative 0.01 at 0; reference of <see cref="Units.LeakyRelu"/>.</summary>
    LeakyRelu,
    /// <summary>z / (1 + |z|); reference of <see cref="Units.Softsign"/>.</summary>
    Softsign,
    /// <summary>clamp(z, −1, 1), derivative 1 on (−1, 1); reference of <see cref="Units.Hardtanh"/>.</summary>
    Hardtanh,
}

/// <summary>
/// Plain double-precision reference of <see cref="DenseUnit{TActivation}"/>, batched and in matrix form:
/// the executable specification the kernels are checked against.
/// </summary>
/// <remarks>
/// Parameters: <c>[W (O×I, row-major), b (O)]</c>. <c>Z = X Wᵀ + b</c>, <c>Y = f(Z)</c>.
/// Backward with <c>δz = δ ⊙ f'(Z)</c>: <c>∂L/∂W = δzᵀ X</c>, <c>∂L/∂b = Σ_batch δz</c>, <c>∂L/∂X = δz W</c>.
/// At a kink f' is the one PyTorch uses (see <see cref="Derivative"/>).
/// </remarks>
public static class DenseReference
{
    private const double SeluLambda = 1.0507009873554805;
    private const double SeluAlpha = 1.6732632423543772;
    private const double LeakySlope = 0.01;

    /// <summary>Number of parameters: O·I weights and O biases.</summary>
    public static int ParameterCount(int inputs, int outputs) => inputs * outputs + outputs;

    /// <summary>Forward pass: <c>Y = f(X Wᵀ + b)</c> (B×O).</summary>
    public static double[] Forward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs, ReferenceActivation activation)
    {
        var z = PreActivation(parameters, x, batch, inputs, outputs);
        var y = new double[z.Length];
        for (int k = 0; k < y.Length; k++)
            y[k] = Apply(activation, z[k]);
        return y;
    }

    /// <summary>
    /// Backward pass given <paramref name="dy"/> = ∂L/∂Y (B×O): the gradient with respect to <c>[W, b]</c>,
    /// summed over the batch, and ∂L/∂X (B×I).
    /// </summary>
    public static (double[] ParameterGradient, double[] InputGradient) Backward(
        ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, ReadOnlySpan<double> dy,
        int batch, int inputs, int outputs, ReferenceActivation activation)
    {
        var z = PreActivation(parameters, x, batch, inputs, outputs);
        ReferenceMath.CheckLength(dy, batch * outputs, nameof(dy));
        var dz = new double[z.Length];                                                  // δz  (B, O)
        for (int k = 0; k < dz.Length; k++)
            dz[k] = dy[k] * Derivative(activation, z[k]);

        var gradW = ReferenceMath.TransposedMultiply(dz, x, batch, outputs, inputs);    // δzᵀ X  (O, I)
        var gradB = new double[outputs];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
                gradB[o] += dz[b * outputs + o];
        }

        var dx = ReferenceMath.Multiply(dz, parameters[..(inputs * outputs)], batch, outputs, inputs);
        return ([.. gradW, .. gradB], dx);
    }

    /// <summary>f(z) in double.</summary>
    public static double Apply(ReferenceActivation activation, double z) => activation switch
    {
        ReferenceActivation.Linear => z,
        ReferenceActivation.Relu => Math.Max(z, 0),
        ReferenceActivation.Relu6 => Math.Min(Math.Max(z, 0), 6),
        ReferenceActivation.Tanh => Math.Tanh(z),
        ReferenceActivation.Sigmoid => ReferenceMath.Sigmoid(z),
        ReferenceActivation.Elu => z > 0 ? z : Math.Exp(z) - 1,
        ReferenceActivation.Selu => SeluLambda * (z > 0 ? z : SeluAlpha * (Math.Exp(z) - 1)),
        // log(1 + e^z) without overflow for large z.
        ReferenceActivation.Softplus => Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z))),
        ReferenceActivation.LeakyRelu => z > 0 ? z : LeakySlope * z,
        ReferenceActivation.Softsign => z / (1 + Math.Abs(z)),
        ReferenceActivation.Hardtanh => Math.Min(Math.Max(z, -1), 1),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>
    /// f'(z) in double. At a kink the derivative PyTorch uses: ReLU 0 at 0, leaky ReLU the slope at 0,
    /// ReLU6 and hardtanh 0 at their clamp points.
    /// </summary>
    public static double Derivative(ReferenceActivation activation, double z) => activation switch
    {
        ReferenceActivation.Linear => 1,
        ReferenceActivation.Relu => z > 0 ? 1 : 0,
        ReferenceActivation.Relu6 => z > 0 && z < 6 ? 1 : 0,
        ReferenceActivation.Tanh => 1 - Math.Tanh(z) * Math.Tanh(z),
        ReferenceActivation.Sigmoid => ReferenceMath.Sigmoid(z) * (1 - ReferenceMath.Sigmoid(z)),
        ReferenceActivation.Elu => z > 0 ? 1 : Math.Exp(z),
        ReferenceActivation.Selu => z > 0 ? SeluLambda : SeluLambda * SeluAlpha * Math.Exp(z),
        ReferenceActivation.Softplus => ReferenceMath.Sigmoid(z),
        ReferenceActivation.LeakyRelu => z > 0 ? 1 : LeakySlope,
        ReferenceActivation.Softsign => 1 / ((1 + Math.Abs(z)) * (1 + Math.Abs(z))),
        ReferenceActivation.Hardtanh => z > -1 && z < 1 ? 1 : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>
    /// The points where f is not differentiable (empty for smooth activations; ELU is C¹ at 0);
    /// finite-difference checks stay away from them.
    /// </summary>
    public static double[] Kinks(ReferenceActivation activation) => activation switch
    {
        ReferenceActivation.Relu or ReferenceActivation.Selu or ReferenceActivation.LeakyRelu => [0],
        ReferenceActivation.Relu6 => [0, 6],
        ReferenceActivation.Hardtanh => [-1, 1],
        _ => [],
    };

    private static double[] PreActivation(ReadOnlySpan<double> parameters, ReadOnlySpan<double> x, int batch, int inputs, int outputs)
    {
        ReferenceMath.CheckShapes(parameters, ParameterCount(inputs, outputs), x, batch, inputs, outputs);
        var z = ReferenceMath.MultiplyTransposed(x, parameters[..(inputs * outputs)], batch, inputs, outputs);
        var bias = parameters[(inputs * outputs)..];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
                z[b * outputs + o] += bias[o];
        }

        return z;
    }
}
