using Nalu.Gpu.Devices;

namespace Nalu.Gpu.Training;

/// <summary>
/// The rule behind <see cref="TrainingStrategy.Auto"/>: which step layout a device kind, population and unit get.
/// The thresholds come from the H100 model in docs/performance.md ("On paper, for an H100"); the README has the table.
/// </summary>
public static class TrainingStrategies
{
    /// <summary>
    /// Populations at least this large use <see cref="TrainingStrategy.FusedInterleaved"/> on a GPU when the unit does
    /// not fit a group's shared memory: 4 warps of 32 models per multiprocessor on a 132-multiprocessor GPU, the least
    /// that hides the L2 latency of its per-model accesses. Below it, the batched layout's few launches per step cost
    /// less than a thread-per-model kernel's idle multiprocessors.
    /// </summary>
    public const int InterleavedMinModels = 16_384;

    /// <summary>
    /// Populations at least this large use <see cref="TrainingStrategy.Group"/> on a GPU when the unit fits: the group
    /// kernel keeps the other paths' 16-sample slice order, so a model's step runs 16 samples per thread in sequence
    /// (≈ 270 µs on an H100 by docs/performance.md), and below a few hundred models the batched layout's launches are
    /// predicted to be faster.
    /// </summary>
    public const int GroupMinModels = 512;

    /// <summary>
    /// The layout <see cref="TrainingStrategy.Auto"/> resolves to. Native devices train natively; ILGPU's CPU accelerator
    /// runs the fused kernel (one launch per many steps; its launches cost 0.1–0.5 ms). On a GPU, group-per-model from
    /// <see cref="GroupMinModels"/> models whenever the unit fits a group's shared memory; otherwise the interleaved
    /// thread-per-model kernel for populations of <see cref="InterleavedMinModels"/> or more, the batched layout below that.
    /// </summary>
    /// <param name="kind">The device's kind (not <see cref="DeviceKind.Auto"/>: a device is already open).</param>
    /// <param name="models">P.</param>
    /// <param name="batch">Samples per step.</param>
    /// <param name="groupSharedBytes">The shared memory the group kernel cannot do without for one model: parameters, cache, gradient, slice losses (<c>GroupTrainingKernel.SharedFixedCount</c> floats); the slice partials go to global memory when they do not fit beside it.</param>
    /// <param name="sharedMemoryPerGroup">What the device gives one group.</param>
    public static TrainingStrategy Choose(DeviceKind kind, int models, int batch, long groupSharedBytes, long sharedMemoryPerGroup)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(models, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(groupSharedBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedMemoryPerGroup);
        return kind switch
        {
            DeviceKind.Native => TrainingStrategy.Native,
            DeviceKind.Cpu => TrainingStrategy.Fused,
            DeviceKind.Cuda or DeviceKind.OpenCL when models >= GroupMinModels && groupSharedBytes <= sharedMemoryPerGroup => TrainingStrategy.Group,
            DeviceKind.Cuda or DeviceKind.OpenCL when models >= InterleavedMinModels => TrainingStrategy.FusedInterleaved,
            DeviceKind.Cuda or DeviceKind.OpenCL => TrainingStrategy.Batched,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Choose a strategy for an opened device's kind, not Auto."),
        };
    }
}
