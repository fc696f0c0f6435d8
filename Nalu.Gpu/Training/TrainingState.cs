namespace Nalu.Gpu.Training;

/// <summary>
/// Everything a <see cref="Trainer"/> needs, besides the model's parameters, to go on exactly where it stopped: written by
/// <see cref="Trainer.SaveCheckpoint"/>, read back as <see cref="Checkpoints.Checkpoint.Contents.Training"/> and restored by
/// <see cref="Trainer.Restore(Checkpoints.Checkpoint.Contents)"/>. The data stream needs no state of its own: arithmetic
/// batches and stored-data rows (epoch shuffles included) are keyed by (seed, step), so <see cref="Step"/> is its position.
/// </summary>
public sealed record TrainingState
{
    /// <summary>Steps trained when saved.</summary>
    public required int Step { get; init; }

    /// <summary>
    /// The trainer's options when saved, with <see cref="TrainerOptions.Strategy"/> the strategy it resolved to (never
    /// <see cref="TrainingStrategy.Auto"/>): pass them to a new <see cref="Trainer"/> to resume.
    /// </summary>
    public required TrainerOptions Options { get; init; }

    /// <summary>The optimizer's two slots per parameter, (P, N, 2) row-major: Adam's m and v, SGD's momentum buffer, RMSProp's mean square.</summary>
    public required float[] OptimizerState { get; init; }

    /// <summary><see cref="Trainer.LastLosses"/> when saved.</summary>
    public required float[] LastLosses { get; init; }

    /// <summary><see cref="Trainer.Diverged"/> when saved.</summary>
    public required bool[] Diverged { get; init; }

    /// <summary><see cref="Trainer.Best"/> when saved, parameters included.</summary>
    public required IReadOnlyList<BestEvaluation?> Best { get; init; }

    /// <summary><see cref="Trainer.History"/> when saved.</summary>
    public required IReadOnlyList<Evaluation> History { get; init; }

    /// <summary><see cref="Trainer.Reinitializations"/> when saved (iNALU's recipe; empty otherwise).</summary>
    public IReadOnlyList<Reinitialization> Reinitializations { get; init; } = [];

    /// <summary>
    /// The batch losses sampled so far in the current re-initialisation window (<see cref="TrainerOptions.ReinitializeEvery"/>),
    /// one array of P per sample: without them a resumed run would judge its first window differently.
    /// </summary>
    public IReadOnlyList<float[]> RecentLosses { get; init; } = [];

    /// <summary>Fingerprints of the stored training, validation and test sets (null entries: none; null: the arithmetic task).</summary>
    internal IReadOnlyList<DataRecord?>? Data { get; init; }

    /// <summary>A stored data set as a training checkpoint identifies it.</summary>
    internal sealed record DataRecord(int Rows, int Inputs, int Outputs, string Fingerprint);
}
