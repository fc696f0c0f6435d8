namespace Nalu.Gpu.Models;

/// <summary>The shape of a unit's weight regulariser.</summary>
public enum RegularizerKind
{
    /// <summary>No regulariser.</summary>
    None = 0,
    /// <summary>
    /// Madsen &amp; Johansen's sparsity regulariser, linear shape: <c>λ(t) · mean(min(|W|, 1 − |W|))</c> over the layer's
    /// weights (for an NMU, W ∈ [0, 1], so this is <c>min(W, 1 − W)</c>).
    /// </summary>
    SparsityLinear = 1,
    /// <summary>The squared shape: <c>λ(t) · mean(W² (1 − |W|)²)</c>.</summary>
    SparsitySquared = 2,
    /// <summary>Heim et al.'s L1 penalty on the NPU weights: <c>β(t) · Σ |W|</c>.</summary>
    L1 = 3,
}

/// <summary>
/// A layer's regulariser and its schedule, carried by value inside the unit so kernels need no per-layer tables.
/// </summary>
/// <remarks>
/// Sparsity kinds ramp linearly (Madsen &amp; Johansen): <c>λ(t) = λ̂ · clip((t − Start)/(End − Start), 0, 1)</c>
/// (a step function at Start when End = Start). L1 steps geometrically (Heim et al.): <c>β(t) = Strength · 10^⌊t / Every⌋</c>
/// moved toward <c>StrengthEnd</c> and held there (×10 when StrengthEnd ≥ Strength, ÷10 otherwise).
/// Here t is the 0-based step.
/// </remarks>
public struct RegularizerSettings
{
    /// <summary>Shape.</summary>
    public RegularizerKind Kind;
    /// <summary>λ̂ (sparsity) or β_start (L1).</summary>
    public float Strength;
    /// <summary>β_end (L1 only).</summary>
    public float StrengthEnd;
    /// <summary>Sparsity: first step of the ramp (λ = 0 before it).</summary>
    public int Start;
    /// <summary>Sparsity: step at which λ reaches λ̂.</summary>
    public int End;
    /// <summary>L1: steps between ×10 changes of β.</summary>
    public int Every;

    /// <summary>No regulariser.</summary>
    public static RegularizerSettings None => default;

    /// <summary>The sparsity regulariser with a linear warm-up from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public static RegularizerSettings Sparsity(float lambda, int start, int end, bool squared = false)
    {
        if (!(float.IsFinite(lambda) && lambda >= 0f))
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "The regulariser strength λ must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        if (end < start)
            throw new ArgumentOutOfRangeException(nameof(end), end, $"The regulariser warm-up must end at or after its start ({start}).");
        return new RegularizerSettings
        {
            Kind = squared ? RegularizerKind.SparsitySquared : RegularizerKind.SparsityLinear,
            Strength = lambda, Start = start, End = end,
        };
    }

    /// <summary>The L1 penalty whose β moves ×10 every <paramref name="every"/> steps from <paramref name="betaStart"/> to <paramref name="betaEnd"/>.</summary>
    public static RegularizerSettings L1(float betaStart, float betaEnd, int every)
    {
        if (!(float.IsFinite(betaStart) && betaStart >= 0f))
            throw new ArgumentOutOfRangeException(nameof(betaStart), betaStart, "β_start must be finite and ≥ 0.");
        if (!(float.IsFinite(betaEnd) && betaEnd >= 0f))
            throw new ArgumentOutOfRangeException(nameof(betaEnd), betaEnd, "β_end must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        return new RegularizerSettings { Kind = RegularizerKind.L1, Strength = betaStart, StrengthEnd = betaEnd, Every = every };
    }

    /// <summary>The strength (λ or β) at 0-based <paramref name="step"/>; 0 when there is no regulariser.</summary>
    public readonly float StrengthAt(int step)
    {
        if (Kind == RegularizerKind.None)
            return 0f;
        if (Kind == RegularizerKind.L1)
        {
            float beta = Strength;
            // At most 64 changes matter: 10^64 spans more than float's whole range.
            int changes = step / Every;
            changes = changes < 64 ? changes : 64;
            bool grows = StrengthEnd >= Strength;
            for (int k = 0; k < changes; k++)
            {
                float next = grows ? beta * 10f : beta * 0.1f;
                if (grows ? next >= StrengthEnd : next <= StrengthEnd)
                    return StrengthEnd;
                beta = next;
            }

            return beta;
        }

        if (step < Start)
            return 0f;
        if (step >= End)
            return Strength;
        return Strength * (step - Start) / (End - Start);
    }

    /// <summary>
    /// The derivative of the per-weight penalty at weight value <paramref name="w"/>, before the strength and the
    /// mean's 1/count: linear <c>d min(|w|, 1 − |w|)/dw</c>, squared <c>d w²(1 − |w|)²/dw</c>, L1 <c>sign(w)</c>.
    /// Where the linear shape has a kink (|w| = ½) the left/right tie goes to the |w| branch; at w = 0, sign(0) = 0.
    /// </summary>
    public readonly float PenaltyDerivative(float w)
    {
        float sign = w > 0f ? 1f : w < 0f ? -1f : 0f;
        float a = w * sign;   // |w|
        if (Kind == RegularizerKind.SparsityLinear)
            return a <= 0.5f ? sign : -sign;
        if (Kind == RegularizerKind.SparsitySquared)
            return 2f * w * (1f - a) * (1f - a) - 2f * w * w * (1f - a) * sign;
        if (Kind == RegularizerKind.L1)
            return sign;
        return 0f;
    }

    /// <summary>The per-weight penalty at <paramref name="w"/> (before strength and mean), matching <see cref="PenaltyDerivative"/>.</summary>
    public readonly float Penalty(float w)
    {
        float a = w < 0f ? -w : w;
        if (Kind == RegularizerKind.SparsityLinear)
            return a < 1f - a ? a : 1f - a;
        if (Kind == RegularizerKind.SparsitySquared)
            return w * w * (1f - a) * (1f - a);
        if (Kind == RegularizerKind.L1)
            return a;
        return 0f;
    }

    /// <summary>
    /// Whether the penalty is a mean over the layer's weights (sparsity, so each weight's gradient is divided by their
    /// count) rather than a sum (L1).
    /// </summary>
    public readonly bool IsMean => Kind is RegularizerKind.SparsityLinear or RegularizerKind.SparsitySquared;
}
