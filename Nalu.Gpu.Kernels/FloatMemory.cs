using ILGPU;

namespace Nalu.Gpu.Kernels;

/// <summary>
/// Flat float storage that unit math reads and writes through. The unit math is written once,
/// generic over this interface, and runs on ILGPU views inside kernels (<see cref="DeviceMemory"/>)
/// or on raw host memory (<see cref="HostMemory"/>) for the native CPU path and the tests.
/// </summary>
public interface IFloatMemory
{
    /// <summary>Element <paramref name="index"/> of the storage.</summary>
    float this[int index] { get; set; }
}

/// <summary>An ILGPU view as <see cref="IFloatMemory"/>; what every kernel instantiates the unit math with.</summary>
public struct DeviceMemory : IFloatMemory
{
    /// <summary>The underlying view.</summary>
    public ArrayView<float> View;

    /// <summary>Wraps a view.</summary>
    public DeviceMemory(ArrayView<float> view) => View = view;

    /// <inheritdoc />
    public float this[int index]
    {
        readonly get => View[index];
        set => View[index] = value;
    }
}

/// <summary>
/// Unchecked host memory as <see cref="IFloatMemory"/>: the native CPU path runs the same unit math
/// over pinned arrays without ILGPU's per-access bounds checks. Callers validate lengths first.
/// </summary>
public readonly unsafe struct HostMemory : IFloatMemory
{
    private readonly float* _data;

    /// <summary>Wraps a pointer to pinned or native memory.</summary>
    public HostMemory(float* data) => _data = data;

    /// <inheritdoc />
    public float this[int index]
    {
        get => _data[index];
        set => _data[index] = value;
    }
}
