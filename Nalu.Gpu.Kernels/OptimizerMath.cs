namespace Nalu.Gpu.Kernels;

/// <summary>
/// Hyper-parameters of one optimizer step, passed by value to kernels. Two state slots per parameter:
/// Adam (m, v), SGD (momentum buffer, unused), RMSProp (square average, unused).
/// </summary>
public struct OptimizerSettings
{
    /// <summary>Update rule.</summary>
    public OptimizerKind Kind;
    /// <summary>Learning rate.</summary>
    public float LearningRate;
    /// <summary>Adam β1; SGD momentum; unused by RMSProp.</summary>
    public float Beta1;
    /// <summary>Adam β2; RMSProp α.</summary>
    public float Beta2;
    /// <summary>Denominator ε (Adam, RMSProp).</summary>
    public float Epsilon;
    /// <summary>Clip each gradient element to [−c, c] first; 0 disables.</summary>
    public float ClipValue;
    /// <summary>Rescale the model's gradient to this L2 norm when larger (after value clipping); 0 disables.</summary>
    public float ClipNorm;
}

/// <summary>The element-wise update rules, shared by the optimizer kernel, the fused step and the native path.</summary>
public static class OptimizerMath
{
    /// <summary>
    /// The factor by which <c>clip_grad_norm_</c> scales a gradient of L2 norm <paramref name="norm"/>:
    /// <c>min(1, c / (norm + 1e-6))</c>, or 1 when clipping is off.
    /// </summary>
    public static float NormScale(OptimizerSettings s, float norm) =>
        s.ClipNorm > 0f && norm + 1e-6f > s.ClipNorm ? s.ClipNorm / (norm + 1e-6f) : 1f;

    /// <summary>Value clipping as <c>clip_grad_value_</c>.</summary>
    public static float ClipValue(OptimizerSettings s, float g) =>
        s.ClipValue > 0f ? (g > s.ClipValue ? s.ClipValue : g < -s.ClipValue ? -s.ClipValue : g) : g;

    /// <summary>
    /// Adam's bias corrections for 0-based <paramref name="step"/> (t = step + 1), computed once per step
    /// rather than per parameter: <c>(1 − β1^t, √(1 − β2^t))</c>.
    /// </summary>
    public static StepFactors Factors(OptimizerSettings s, int step)
    {
        float t = step + 1;
        return s.Kind == OptimizerKind.Adam
            ? new StepFactors(1f - MathF.Pow(s.Beta1, t), MathF.Sqrt(1f - MathF.Pow(s.Beta2, t)))
            : new StepFactors(1f, 1f);
    }

    /// <summary>
    /// Updates parameter <paramref name="index"/> in place from its (already clipped) gradient, with the
    /// step's <see cref="Factors"/>.
    /// </summary>
    public static void Update<TMem>(
        OptimizerSettings s, float learningRate, StepFactors f, float gradient,
        TMem parameters, TMem state, int index, int stateIndex)
        where TMem : struct, IFloatMemory
    {
        if (s.Kind == OptimizerKind.Adam)
        {
            float m = s.Beta1 * state[stateIndex] + (1f - s.Beta1) * gradient;
            float v = s.Beta2 * state[stateIndex + 1] + (1f - s.Beta2) * gradient * gradient;
            state[stateIndex] = m;
            state[stateIndex + 1] = v;
            // torch: p -= lr/c1 · m / (sqrt(v)/sqrt(c2) + eps)
            parameters[index] -= learningRate / f.Correction1 * m / (MathF.Sqrt(v) / f.SqrtCorrection2 + s.Epsilon);
        }
        else if (s.Kind == OptimizerKind.Sgd)
        {
            float buffer = s.Beta1 * state[stateIndex] + gradient;
            state[stateIndex] = buffer;
            parameters[index] -= learningRate * buffer;
        }
        else
        {
            float average = s.Beta2 * state[stateIndex] + (1f - s.Beta2) * gradient * gradient;
            state[stateIndex] = average;
            parameters[index] -= learningRate * gradient / (MathF.Sqrt(average) + s.Epsilon);
        }
    }
}

/// <summary>Per-step constants of an update (Adam's bias corrections; 1 for the others).</summary>
public readonly struct StepFactors
{
    /// <summary><c>1 − β1^t</c>.</summary>
    public readonly float Correction1;

    /// <summary><c>√(1 − β2^t)</c>.</summary>
    public readonly float SqrtCorrection2;

    /// <summary>Creates the factors.</summary>
    public StepFactors(float correction1, float sqrtCorrection2)
    {
        Correction1 = correction1;
        SqrtCorrection2 = sqrtCorrection2;
    }
}
