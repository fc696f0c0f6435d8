using Nalu.Gpu.Kernels;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Data;

namespace Nalu.Gpu.Training;

/// <summary>How a training step is laid out on the device.</summary>
public enum TrainingStrategy
{
    /// <summary>Chosen by <see cref="TrainingStrategies.Choose"/> from the device kind, P, the batch and the unit's size (the rule is in the README).</summary>
    Auto,
    /// <summary>One launch runs several whole steps, one thread per model (samples in sequence).</summary>
    Fused,
    /// <summary>A step is a few batch-parallel launches (generate, forward, loss, backward, reduce, update).</summary>
    Batched,
    /// <summary>
    /// The fused step's code run as plain C# on all cores (models in parallel, or a model's batch split across
    /// cores when there are fewer models than cores). Needs a <see cref="Devices.DeviceKind.Native"/> or CPU device;
    /// the default on <see cref="Devices.DeviceKind.Native"/>.
    /// </summary>
    Native,
    /// <summary>
    /// <see cref="Fused"/> over model-interleaved buffers (element j of model p at <c>j·P + p</c>), so the threads of
    /// a warp read consecutive floats. Trains to the same bits as <see cref="Fused"/>; the trainer transposes
    /// parameters and optimizer state in and out around each launch, so models, checkpoints and evaluation never see
    /// the layout.
    /// </summary>
    FusedInterleaved,
    /// <summary>
    /// One launch runs several whole steps, ONE THREAD GROUP PER MODEL: the model's parameters, cache and gradient in
    /// shared memory, the group's threads over the slices of the batch, then over parameters for the reduction and the
    /// update. Bit-identical to <see cref="Fused"/>. Needs a kernel device (CPU accelerator or GPU) and a model whose
    /// parameters, cache and gradient fit the device's shared memory per group (otherwise <see cref="NotSupportedException"/>).
    /// </summary>
    Group,
}

/// <summary>Training-loop settings. Defaults follow the paper's protocol (batch 128, Adam lr 1e-3, 10,000-sample evaluation sets).</summary>
public sealed record TrainerOptions
{
    /// <summary>Samples per step (128).</summary>
    public int Batch { get; init; } = 128;
    /// <summary>Optimizer (Adam, lr 1e-3).</summary>
    public OptimizerOptions Optimizer { get; init; } = OptimizerOptions.Adam();
    /// <summary>Evaluate every this many steps (0: only when asked). Default 1,000.</summary>
    public int EvaluateEvery { get; init; } = 1000;
    /// <summary>Size of the interpolation (validation) set (10,000).</summary>
    public int ValidationSamples { get; init; } = 10_000;
    /// <summary>Size of the extrapolation (test) set (10,000).</summary>
    public int TestSamples { get; init; } = 10_000;
    /// <summary>Step layout (Auto).</summary>
    public TrainingStrategy Strategy { get; init; } = TrainingStrategy.Auto;
    /// <summary>
    /// Report progress every this many steps (0, the default: after every launch). Independent of
    /// <see cref="StepsPerLaunch"/>, a performance knob; reports also come at each evaluation and at the end.
    /// </summary>
    public int ReportEvery { get; init; }
    /// <summary>Most steps per fused launch (50); progress and loss checks happen between launches.</summary>
    public int StepsPerLaunch { get; init; } = 50;
    /// <summary>Per-model ops for a population (null: every model trains the task's op).</summary>
    public IReadOnlyList<ArithmeticOp>? Ops { get; init; }
    /// <summary>Per-model learning rates (null: every model uses the optimizer's).</summary>
    public IReadOnlyList<float>? LearningRates { get; init; }
    /// <summary>
    /// Work items per model in an evaluation, each summing its share of the set in double (0, the default: enough
    /// to fill the device, which depends on the population size). Fix it to make every model's evaluation sums
    /// bit-identical whatever population it is trained in (the arithmetic experiment does, for resume and shards).
    /// </summary>
    public int EvaluationChunks { get; init; }

    /// <summary>
    /// Worker threads of the native path (null, the default: one per core). Results do not depend on it: every path
    /// sums a step's gradient in the same fixed order of batch slices.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Test hook: the shared memory per group the <see cref="TrainingStrategy.Group"/> strategy plans with (null: the
    /// device's maximum). A low value forces the work area into global memory, so tests run that path too.
    /// </summary>
    internal long? GroupSharedMemoryBytes { get; init; }

    /// <summary>
    /// How training batches pick rows of a stored <see cref="Data.Dataset"/> (default <see cref="SamplingMode.Shuffle"/>:
    /// epochs of a fresh keyed permutation, so every row is seen once per epoch). Position step·Batch + sample walks the
    /// epochs; <see cref="SamplingMode.WithReplacement"/> draws each sample's row independently. Ignored by the
    /// arithmetic task, whose data is generated.
    /// </summary>
    public SamplingMode Sampling { get; init; } = SamplingMode.Shuffle;

    /// <summary>
    /// The seed of the stored-data sampling stream (null, the default: each model samples with its own model seed, so a
    /// model draws the same rows alone as in a population; a value: every model of the population draws the same rows in
    /// the same order). Ignored by the arithmetic task.
    /// </summary>
    public int? DataSeed { get; init; }

    /// <summary>
    /// Re-initialise a stuck model every this many steps (0, the default: never): iNALU's recipe (Schlör et al.). The batch
    /// loss is sampled at <see cref="ReinitializeSamples"/> evenly spaced steps of each window; a model whose loss stopped
    /// falling and is above 1 gets new parameters from U(−2, 2) and zeroed optimizer moments (<see cref="Trainer.Reinitializations"/>
    /// logs it). Must be a multiple of <see cref="ReinitializeSamples"/>.
    /// </summary>
    public int ReinitializeEvery { get; init; }

    /// <summary>Loss samples per re-initialisation window: the first half is compared with the second.</summary>
    public const int ReinitializeSamples = 10;

    internal void Validate(int models)
    {
        if (ReinitializeEvery < 0 || ReinitializeEvery % ReinitializeSamples != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReinitializeEvery), ReinitializeEvery,
                $"The re-initialisation window must be 0 (off) or a positive multiple of {ReinitializeSamples} steps.");
        }

        if (!Enum.IsDefined(Sampling))
            throw new ArgumentOutOfRangeException(nameof(Sampling), Sampling, "Unknown sampling mode.");
        if (Threads is { } threads)
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, nameof(Threads));
        ArgumentOutOfRangeException.ThrowIfLessThan(Batch, 1, nameof(Batch));
        ArgumentNullException.ThrowIfNull(Optimizer, nameof(Optimizer));
        // A `with` expression sets init properties without the validating constructor; run it again.
        _ = Optimizer.WithClipping(Optimizer.ClipValue, Optimizer.ClipNorm);
        ArgumentOutOfRangeException.ThrowIfNegative(EvaluateEvery, nameof(EvaluateEvery));
        ArgumentOutOfRangeException.ThrowIfLessThan(ValidationSamples, 1, nameof(ValidationSamples));
        ArgumentOutOfRangeException.ThrowIfLessThan(TestSamples, 1, nameof(TestSamples));
        ArgumentOutOfRangeException.ThrowIfLessThan(StepsPerLaunch, 1, nameof(StepsPerLaunch));
        ArgumentOutOfRangeException.ThrowIfNegative(ReportEvery, nameof(ReportEvery));
        ArgumentOutOfRangeException.ThrowIfNegative(EvaluationChunks, nameof(EvaluationChunks));
        if (!Enum.IsDefined(Strategy))
            throw new ArgumentOutOfRangeException(nameof(Strategy), Strategy, "Unknown strategy.");
        if (Ops is not null && Ops.Count != models)
            throw new ArgumentException($"Ops has {Ops.Count} entries for {models} models.", nameof(Ops));
        if (LearningRates is not null)
        {
            if (LearningRates.Count != models)
                throw new ArgumentException($"LearningRates has {LearningRates.Count} entries for {models} models.", nameof(LearningRates));
            foreach (float lr in LearningRates)
            {
                if (!(float.IsFinite(lr) && lr > 0f))
                    throw new ArgumentOutOfRangeException(nameof(LearningRates), lr, "Every learning rate must be positive and finite.");
            }
        }
    }
}

/// <summary>Mean squared errors of each model on the two evaluation sets (mean over rows and outputs).</summary>
/// <param name="Step">Steps trained when evaluated.</param>
/// <param name="Interpolation">Per-model MSE on the interpolation (validation) set; NaN when an output was not finite or there is no such set.</param>
/// <param name="Extrapolation">Per-model MSE on the extrapolation (test) set; NaN when an output was not finite or there is no such set.</param>
public sealed record Evaluation(int Step, double[] Interpolation, double[] Extrapolation)
{
    /// <summary>Per-model MSE on the validation set: <see cref="Interpolation"/> under its data-set name.</summary>
    public double[] Validation => Interpolation;

    /// <summary>Per-model MSE on the test set: <see cref="Extrapolation"/> under its data-set name.</summary>
    public double[] Test => Extrapolation;
}

/// <summary>Progress of a training run, reported between launches.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps this call will reach.</param>
/// <param name="Losses">Training loss of each model's latest step.</param>
/// <param name="Evaluation">Set when this report follows an evaluation.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, float[] Losses, Evaluation? Evaluation)
{
    /// <summary>Wall time since this <c>Train</c> call started (evaluations included).</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Steps per second of this <c>Train</c> call so far (per model; multiply by the population for model-steps/s).</summary>
    public double StepsPerSecond { get; init; }
}

/// <summary>A model's best evaluation so far, with its parameters at that step.</summary>
/// <param name="Step">Steps trained at that evaluation.</param>
/// <param name="Interpolation">Validation MSE (the lowest so far).</param>
/// <param name="Extrapolation">Test MSE at that step.</param>
/// <param name="Parameters">The model's parameters at that step (N values).</param>
public sealed record BestEvaluation(int Step, double Interpolation, double Extrapolation, float[] Parameters);

/// <summary>A re-initialisation of a stuck model (<see cref="TrainerOptions.ReinitializeEvery"/>).</summary>
/// <param name="Model">Index of the model in the population.</param>
/// <param name="Step">Steps trained when it was reset (its next step is the first with the new parameters).</param>
public sealed record Reinitialization(int Model, int Step);
