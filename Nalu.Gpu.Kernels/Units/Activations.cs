namespace Nalu.Gpu.Kernels.Units;

/// <summary>A pointwise activation for <see cref="DenseUnit{TActivation}"/>: value and derivative from the pre-activation z.</summary>
public interface IActivation
{
    /// <summary>f(z).</summary>
    float Apply(float z);

    /// <summary>f'(z). At a kink the derivative PyTorch uses is taken.</summary>
    float Derivative(float z);
}

/// <summary>Identity (no activation): the linear baseline.</summary>
public struct Linear : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z;
    /// <inheritdoc />
    public readonly float Derivative(float z) => 1f;
}

/// <summary>max(0, z); derivative 0 at z = 0, as in PyTorch.</summary>
public struct Relu : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z > 0f ? z : 0f;
    /// <inheritdoc />
    public readonly float Derivative(float z) => z > 0f ? 1f : 0f;
}

/// <summary>min(max(0, z), 6); derivative 1 on the open interval (0, 6).</summary>
public struct Relu6 : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z <= 0f ? 0f : z >= 6f ? 6f : z;
    /// <inheritdoc />
    public readonly float Derivative(float z) => z > 0f && z < 6f ? 1f : 0f;
}

/// <summary>tanh(z).</summary>
public struct Tanh : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => MathF.Tanh(z);
    /// <inheritdoc />
    public readonly float Derivative(float z)
    {
        float t = MathF.Tanh(z);
        return 1f - t * t;
    }
}

/// <summary>σ(z).</summary>
public struct Sigmoid : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => UnitMath.Sigmoid(z);
    /// <inheritdoc />
    public readonly float Derivative(float z)
    {
        float s = UnitMath.Sigmoid(z);
        return s * (1f - s);
    }
}

/// <summary>ELU with α = 1: z for z &gt; 0, e^z − 1 otherwise.</summary>
public struct Elu : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z > 0f ? z : MathF.Exp(z) - 1f;
    /// <inheritdoc />
    public readonly float Derivative(float z) => z > 0f ? 1f : MathF.Exp(z);
}

/// <summary>SELU with PyTorch's constants λ = 1.0507009873554805, α = 1.6732632423543772.</summary>
public struct Selu : IActivation
{
    private const float Lambda = 1.0507009873554805f;
    private const float Alpha = 1.6732632423543772f;

    /// <inheritdoc />
    public readonly float Apply(float z) => z > 0f ? Lambda * z : Lambda * Alpha * (MathF.Exp(z) - 1f);
    /// <inheritdoc />
    public readonly float Derivative(float z) => z > 0f ? Lambda : Lambda * Alpha * MathF.Exp(z);
}

/// <summary>softplus(z) = log(1 + e^z), evaluated stably as max(z,0) + log(1 + e^−|z|).</summary>
public struct Softplus : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => (z > 0f ? z : 0f) + MathF.Log(1f + MathF.Exp(-MathF.Abs(z)));
    /// <inheritdoc />
    public readonly float Derivative(float z) => UnitMath.Sigmoid(z);
}

/// <summary>Leaky ReLU with negative slope 0.01 (PyTorch's default).</summary>
public struct LeakyRelu : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z > 0f ? z : 0.01f * z;
    /// <inheritdoc />
    public readonly float Derivative(float z) => z > 0f ? 1f : 0.01f;
}

/// <summary>softsign(z) = z / (1 + |z|).</summary>
public struct Softsign : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z / (1f + MathF.Abs(z));
    /// <inheritdoc />
    public readonly float Derivative(float z)
    {
        float d = 1f + MathF.Abs(z);
        return 1f / (d * d);
    }
}

/// <summary>hardtanh(z) = clamp(z, −1, 1); derivative 1 on the open interval.</summary>
public struct Hardtanh : IActivation
{
    /// <inheritdoc />
    public readonly float Apply(float z) => z <= -1f ? -1f : z >= 1f ? 1f : z;
    /// <inheritdoc />
    public readonly float Derivative(float z) => z > -1f && z < 1f ? 1f : 0f;
}
