namespace Nalu.Gpu.Models;

/// <summary>
/// The parts of iNALU's training recipe (Schlör et al. 2020) that belong to a layer, carried by value inside
/// <see cref="Nalu.Gpu.Kernels.Units.INaluUnit"/> so every path (fused, batched, native) applies them with no per-layer tables:
/// alternating weight/gate updates and the saturation regulariser. (Gradient clipping and the re-initialisation of a
/// stuck model are properties of the training loop: <c>OptimizerOptions.ClipValue</c> and <c>TrainerOptions.ReinitializeEvery</c>.)
/// </summary>
/// <remarks>
/// <para><b>Alternating updates</b> (<see cref="Alternate"/>): in each block of <see cref="BlockSteps"/> steps, the first
/// <see cref="WeightSteps"/> update only the weights (Ŵa, M̂a, Ŵm, M̂m) and the rest only the gate G, by 0-based step:
/// weights when <c>step mod 10 &lt; 8</c>. The group not trained keeps its values and its optimizer moments (the original
/// code applies the optimizer to a variable subset).</para>
/// <para><b>Saturation regulariser</b>: <c>R = Saturation · mean(max(ω − |v|, 0))</c> with ω = <see cref="Nalu.Gpu.Kernels.Units.INaluUnit.MaxExponent"/>
/// (20), one mean over all 4·O·I + O parameters of the layer (Ŵ, M̂ of both paths and G); it pushes them away from 0,
/// toward saturated tanh and σ. Applied at steps ≥ <see cref="SaturationStart"/> (the paper: after epoch 10) and only while
/// the step's batch MSE is below <see cref="SaturationLossBelow"/> (the paper: 1). Its gradient is
/// <c>−Saturation·sign(v)/n</c> for |v| &lt; ω, else 0 (sign(0) = 0).</para>
/// </remarks>
public struct INaluRecipe
{
    /// <summary>Steps per alternation block.</summary>
    public const int BlockSteps = 10;

    /// <summary>Steps of each block that update the weights (the others update the gate).</summary>
    public const int WeightSteps = 8;

    /// <summary>The paper's regulariser strength, 0.05.</summary>
    public const float PaperSaturation = 0.05f;

    /// <summary>Non-zero: alternate weight and gate updates.</summary>
    public int Alternate;

    /// <summary>Strength of the saturation regulariser (0: off).</summary>
    public float Saturation;

    /// <summary>First 0-based step at which the saturation regulariser applies.</summary>
    public int SaturationStart;

    /// <summary>The regulariser applies only while the step's batch MSE is below this.</summary>
    public float SaturationLossBelow;

    /// <summary>No recipe: every parameter trains every step, no regulariser (the plain unit).</summary>
    public static INaluRecipe None => default;

    /// <summary>Schlör et al.'s recipe: alternating 8/2 updates, saturation 0.05 from <paramref name="saturationStart"/> while the loss is below 1.</summary>
    public static INaluRecipe Paper(int saturationStart) => Create(true, PaperSaturation, saturationStart, 1f);

    /// <summary>A recipe; throws on a negative or non-finite strength, a negative start or a loss bound that is not positive.</summary>
    public static INaluRecipe Create(bool alternate, float saturation, int saturationStart, float saturationLossBelow)
    {
        var recipe = new INaluRecipe
        {
            Alternate = alternate ? 1 : 0, Saturation = saturation, SaturationStart = saturationStart, SaturationLossBelow = saturationLossBelow,
        };
        recipe.Validate();
        return recipe;
    }

    /// <summary>Whether the recipe changes nothing.</summary>
    public readonly bool IsNone => Alternate == 0 && Saturation == 0f;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a value outside its range.</summary>
    public readonly void Validate()
    {
        if (!(float.IsFinite(Saturation) && Saturation >= 0f))
            throw new ArgumentOutOfRangeException(nameof(Saturation), Saturation, "The iNALU saturation strength must be finite and ≥ 0.");
        if (SaturationStart < 0)
            throw new ArgumentOutOfRangeException(nameof(SaturationStart), SaturationStart, "The iNALU saturation start must be ≥ 0.");
        if (Saturation > 0f && !(SaturationLossBelow > 0f))
            throw new ArgumentOutOfRangeException(nameof(SaturationLossBelow), SaturationLossBelow, "The iNALU saturation loss bound must be > 0.");
    }

    /// <summary>Whether the weights (true) or the gate (false) train at 0-based <paramref name="step"/> when alternating.</summary>
    public static bool WeightsTrain(int step) => step % BlockSteps < WeightSteps;

    /// <summary>Whether the saturation regulariser applies at <paramref name="step"/> with the step's batch MSE <paramref name="loss"/>.</summary>
    public readonly bool SaturationApplies(int step, float loss) =>
        Saturation > 0f && step >= SaturationStart && loss < SaturationLossBelow;
}
