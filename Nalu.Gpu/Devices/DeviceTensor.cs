using ILGPU;
using ILGPU.Runtime;

namespace Nalu.Gpu.Devices;

/// <summary>
/// A float32 tensor that lives on a device. Disposable: its memory is freed by <see cref="Dispose"/>,
/// never by a finalizer. Row-major; the last dimension is contiguous.
/// </summary>
public sealed class DeviceTensor : IDisposable
{
    private DeviceTensor(NaluDevice device, MemoryBuffer1D<float, Stride1D.Dense> buffer, int[] shape)
    {
        Device = device;
        _buffer = buffer;
        Shape = shape;
    }

    /// <summary>The device holding the data.</summary>
    public NaluDevice Device { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Number of elements.</summary>
    public long Length => _buffer.Length;

    private readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;
    private bool _disposed;

    internal MemoryBuffer1D<float, Stride1D.Dense> Buffer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Device.ThrowIfDisposed();
            return _buffer;
        }
    }

    internal ArrayView<float> View => Buffer.View;

    /// <summary>Allocates a zero-filled tensor.</summary>
    public static DeviceTensor Zeros(NaluDevice device, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        long length = ElementCount(shape);
        var buffer = device.Accelerator.Allocate1D<float>(length);
        buffer.MemSetToZero();
        return new DeviceTensor(device, buffer, shape.ToArray());
    }

    /// <summary>Copies host data to a new device tensor.</summary>
    /// <exception cref="ArgumentException">Length does not match the shape, or the data holds NaN or ±Inf.</exception>
    public static DeviceTensor FromArray(NaluDevice device, ReadOnlySpan<float> data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        long length = ElementCount(shape);
        if (data.Length != length)
        {
            throw new ArgumentException(
                $"Data has {data.Length} values but shape [{string.Join(", ", shape)}] needs {length}.", nameof(data));
        }

        DataChecks.EnsureFinite(data, nameof(data));
        var buffer = device.Accelerator.Allocate1D<float>(length);
        buffer.View.CopyFromCPU(data.ToArray());
        return new DeviceTensor(device, buffer, shape.ToArray());
    }

    /// <summary>Copies the tensor to a new host array.</summary>
    public float[] ToArray() => Buffer.GetAsArray1D();

    private static long ElementCount(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0)
            throw new ArgumentException("A tensor needs at least one dimension.", nameof(shape));
        long length = 1;
        foreach (int d in shape)
        {
            if (d < 1)
                throw new ArgumentOutOfRangeException(nameof(shape), $"Dimension {d} in [{string.Join(", ", shape)}] must be at least 1.");
            length *= d;
        }

        if (length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor of {length} elements exceeds 32-bit indexing.");
        return length;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _buffer.Dispose();
    }
}

/// <summary>Input checks shared by the API and the command line.</summary>
public static class DataChecks
{
    /// <summary>Throws naming the first NaN or infinite value.</summary>
    /// <exception cref="ArgumentException">A value is NaN or ±Inf.</exception>
    public static void EnsureFinite(ReadOnlySpan<float> data, string what)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
                throw new ArgumentException($"{what} contains {data[i]} at index {i}; only finite values are accepted.");
        }
    }
}
