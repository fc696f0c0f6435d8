namespace Nalu.Gpu.Kernels.Units;

/// <summary>
/// Which sample a unit's <see cref="IUnit.Forward"/> and <see cref="IUnit.Backward"/> see: the model's seed, the 0-based
/// training step, the sample's index in the step's batch, and whether this is a training pass. Units whose math depends
/// on none of them (all but the sNMU) ignore it; a unit that draws per-sample noise (<see cref="SnmuUnit"/>) keys the counter
/// RNG with it, so every path (fused, batched, native) draws the same noise for the same sample.
/// </summary>
/// <remarks>Evaluation and prediction pass <see cref="Inference"/>: not training, every field 0.</remarks>
public readonly struct SampleContext
{
    /// <summary>The model's seed.</summary>
    public readonly int Seed;

    /// <summary>0-based training step.</summary>
    public readonly int Step;

    /// <summary>Index of the sample in the step's batch.</summary>
    public readonly int Sample;

    /// <summary>Non-zero in a training pass (an int, not a bool, so the struct is plain data on every backend).</summary>
    public readonly int Training;

    /// <summary>A context for sample <paramref name="sample"/> of <paramref name="step"/> of the model seeded <paramref name="seed"/>.</summary>
    public SampleContext(int seed, int step, int sample, bool training)
    {
        Seed = seed;
        Step = step;
        Sample = sample;
        Training = training ? 1 : 0;
    }

    /// <summary>Whether this is a training pass.</summary>
    public bool IsTraining => Training != 0;

    /// <summary>Evaluation and prediction: not training.</summary>
    public static SampleContext Inference => default;
}
