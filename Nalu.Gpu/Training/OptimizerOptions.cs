using Nalu.Gpu.Kernels;

namespace Nalu.Gpu.Training;

/// <summary>
/// An optimizer and its hyper-parameters. Defaults follow PyTorch: Adam(lr 1e-3, β 0.9/0.999, ε 1e-8),
/// SGD(momentum 0.9), RMSprop(α 0.99, ε 1e-8). Clipping is off unless set: by value first
/// (<c>clip_grad_value_</c>), then by the model's whole-gradient L2 norm (<c>clip_grad_norm_</c>).
/// </summary>
public sealed record OptimizerOptions
{
    /// <summary>Validating constructor.</summary>
    public OptimizerOptions(OptimizerKind kind, float learningRate, float beta1, float beta2, float epsilon, float clipValue = 0f, float clipNorm = 0f)
    {
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer.");
        Positive(learningRate, nameof(learningRate));
        if (!(beta1 >= 0f && beta1 < 1f))
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "β1 / momentum must be in [0, 1).");
        if (!(beta2 >= 0f && beta2 < 1f))
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β2 / α must be in [0, 1).");
        Positive(epsilon, nameof(epsilon));
        NonNegative(clipValue, nameof(clipValue));
        NonNegative(clipNorm, nameof(clipNorm));
        Kind = kind;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        ClipValue = clipValue;
        ClipNorm = clipNorm;
    }

    /// <summary>Adam.</summary>
    public static OptimizerOptions Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f) =>
        new(OptimizerKind.Adam, learningRate, beta1, beta2, epsilon);

    /// <summary>SGD with momentum.</summary>
    public static OptimizerOptions Sgd(float learningRate = 1e-2f, float momentum = 0.9f) =>
        new(OptimizerKind.Sgd, learningRate, momentum, 0f, 1e-8f);

    /// <summary>RMSProp.</summary>
    public static OptimizerOptions RmsProp(float learningRate = 1e-3f, float alpha = 0.99f, float epsilon = 1e-8f) =>
        new(OptimizerKind.RmsProp, learningRate, 0f, alpha, epsilon);

    /// <summary>Rule.</summary>
    public OptimizerKind Kind { get; init; }
    /// <summary>Learning rate.</summary>
    public float LearningRate { get; init; }
    /// <summary>Adam β1 or SGD momentum.</summary>
    public float Beta1 { get; init; }
    /// <summary>Adam β2 or RMSProp α.</summary>
    public float Beta2 { get; init; }
    /// <summary>Denominator ε.</summary>
    public float Epsilon { get; init; }
    /// <summary>Value clip (0 = off).</summary>
    public float ClipValue { get; init; }
    /// <summary>Norm clip (0 = off).</summary>
    public float ClipNorm { get; init; }

    /// <summary>Returns a copy with clipping set.</summary>
    public OptimizerOptions WithClipping(float clipValue, float clipNorm) =>
        new(Kind, LearningRate, Beta1, Beta2, Epsilon, clipValue, clipNorm);

    internal OptimizerSettings ToSettings() => new()
    {
        Kind = Kind,
        LearningRate = LearningRate,
        Beta1 = Beta1,
        Beta2 = Beta2,
        Epsilon = Epsilon,
        ClipValue = ClipValue,
        ClipNorm = ClipNorm,
    };

    private static void Positive(float v, string name)
    {
        if (!(float.IsFinite(v) && v > 0f))
            throw new ArgumentOutOfRangeException(name, v, $"{name} must be a positive finite number.");
    }

    private static void NonNegative(float v, string name)
    {
        if (!(float.IsFinite(v) && v >= 0f))
            throw new ArgumentOutOfRangeException(name, v, $"{name} must be a non-negative finite number (0 disables).");
    }
}
