namespace Nalu.Gpu.Kernels;

/// <summary>Which update rule <see cref="OptimizerSettings"/> describes.</summary>
public enum OptimizerKind
{
    /// <summary>Adam (Kingma &amp; Ba), as torch.optim.Adam.</summary>
    Adam = 0,
    /// <summary>SGD with (heavy-ball) momentum, as torch.optim.SGD.</summary>
    Sgd = 1,
    /// <summary>RMSProp, as torch.optim.RMSprop (not centred).</summary>
    RmsProp = 2,
}

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
    /// Updates parameter <paramref name="index"/> in place from its (already clipped) gradient at step
    /// <paramref name="step"/> (0-based; Adam's bias correction uses t = step + 1).
    /// </summary>
    public static void Update<TMem>(
        OptimizerSettings s, float learningRate, int step, float gradient,
        TMem parameters, TMem state, int index, int stateIndex)
        where TMem : struct, IFloatMemory
    {
        if (s.Kind == OptimizerKind.Adam)
        {
            float m = s.Beta1 * state[stateIndex] + (1f - s.Beta1) * gradient;
            float v = s.Beta2 * state[stateIndex + 1] + (1f - s.Beta2) * gradient * gradient;
            state[stateIndex] = m;
            state[stateIndex + 1] = v;
            float t = step + 1;
            float correction1 = 1f - MathF.Pow(s.Beta1, t);
            float correction2 = 1f - MathF.Pow(s.Beta2, t);
            // torch: p -= lr/c1 · m / (sqrt(v)/sqrt(c2) + eps)
            parameters[index] -= learningRate / correction1 * m / (MathF.Sqrt(v) / MathF.Sqrt(correction2) + s.Epsilon);
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
