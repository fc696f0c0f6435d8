using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;

namespace Nalu.Gpu.Data;

/// <summary>
/// A stored data set on a device: N rows of I inputs (X, N × I) and O targets (Y, N × O), validated on the host and
/// uploaded once. A <see cref="Training.Trainer"/> samples training batches from it on the device (see
/// <see cref="Training.TrainerOptions.Sampling"/>) and evaluates validation and test sets over all their rows in order.
/// </summary>
/// <remarks>
/// Values must be finite: a NaN or infinity is refused with an exception naming its row and column, because one
/// NaN in a batch would silently turn every later parameter into NaN. Owns device memory: dispose it after the
/// trainers that read it.
/// </remarks>
public sealed class Dataset : IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _x, _y;
    private bool _disposed;

    /// <summary>
    /// A data set from row-major host arrays: <paramref name="inputs"/> holds N rows of <paramref name="inputColumns"/>
    /// values, <paramref name="targets"/> N rows of <paramref name="targetColumns"/> values (a <c>float[]</c> converts to
    /// a span).
    /// </summary>
    /// <exception cref="ArgumentException">A length that is not a whole number of rows, row counts that differ, no rows, or a NaN/infinite value (named by row and column).</exception>
    public Dataset(NaluDevice device, ReadOnlySpan<float> inputs, int inputColumns, ReadOnlySpan<float> targets, int targetColumns)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfLessThan(inputColumns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetColumns, 1);
        if (inputs.Length % inputColumns != 0)
            throw new ArgumentException($"inputs has {inputs.Length} values, not a whole number of rows of {inputColumns} columns.", nameof(inputs));
        if (targets.Length % targetColumns != 0)
            throw new ArgumentException($"targets has {targets.Length} values, not a whole number of rows of {targetColumns} columns.", nameof(targets));
        int rows = inputs.Length / inputColumns;
        if (rows == 0)
            throw new ArgumentException("A data set needs at least one row; inputs is empty.", nameof(inputs));
        if (targets.Length / targetColumns != rows)
        {
            throw new ArgumentException(
                $"inputs has {rows} rows ({inputs.Length} values / {inputColumns} columns) but targets has {targets.Length / targetColumns} ({targets.Length} values / {targetColumns} columns).",
                nameof(targets));
        }

        EnsureFinite(inputs, inputColumns, nameof(inputs));
        EnsureFinite(targets, targetColumns, nameof(targets));
        device.EnsureFits(4.0 * (inputs.Length + (double)targets.Length), $"A data set of {rows} rows × ({inputColumns} + {targetColumns}) columns");
        Device = device;
        Rows = rows;
        Inputs = inputColumns;
        Outputs = targetColumns;
        _x = device.Accelerator.Allocate1D<float>(inputs.Length);
        _y = device.Accelerator.Allocate1D<float>(targets.Length);
        _x.View.CopyFromCPU(inputs.ToArray());
        _y.View.CopyFromCPU(targets.ToArray());
        Fingerprint = FingerprintOf(inputs, inputColumns, targets, targetColumns);
    }

    /// <summary>
    /// FNV-1a (64 bits) of the shape and every value's bits, in hex: a training checkpoint records it, so resuming on other
    /// data is refused instead of silently training on it.
    /// </summary>
    internal string Fingerprint { get; }

    private static string FingerprintOf(ReadOnlySpan<float> inputs, int inputColumns, ReadOnlySpan<float> targets, int targetColumns)
    {
        ulong hash = 14695981039346656037UL;
        void Add(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
                hash = (hash ^ b) * 1099511628211UL;
        }

        Add(BitConverter.GetBytes(inputColumns));
        Add(BitConverter.GetBytes(targetColumns));
        Add(System.Runtime.InteropServices.MemoryMarshal.AsBytes(inputs));
        Add(System.Runtime.InteropServices.MemoryMarshal.AsBytes(targets));
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A data set from 2-D host arrays: <c>inputs[row, column]</c> (N × I) and <c>targets[row, column]</c> (N × O).</summary>
    /// <exception cref="ArgumentException">Row counts that differ, no rows or columns, or a NaN/infinite value (named by row and column).</exception>
    public Dataset(NaluDevice device, float[,] inputs, float[,] targets)
        : this(device, Flatten(inputs, nameof(inputs)), inputs.GetLength(1), Flatten(targets, nameof(targets)), targets.GetLength(1))
    {
    }

    /// <summary>
    /// A data set of sequences from host arrays: <c>inputs[row, step, feature]</c> (N × T × F) and <c>targets[row, column]</c>
    /// (N × O). Each row's inputs are stored step-major (<c>T·F</c> values, <c>x[t·F + f]</c>), what a model whose first
    /// layer is recurrent over T steps of F values reads (<see cref="Models.LayerSpec.Recurrent"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Row counts that differ, an empty dimension, or a NaN/infinite value (named by row, step and feature).</exception>
    public Dataset(NaluDevice device, float[,,] inputs, float[,] targets)
        : this(device, FlattenSequences(inputs), inputs.GetLength(1) * inputs.GetLength(2), Flatten(targets, nameof(targets)), targets.GetLength(1))
    {
    }

    private static float[] FlattenSequences(float[,,] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int n = inputs.GetLength(0), t = inputs.GetLength(1), f = inputs.GetLength(2);
        if (n == 0 || t == 0 || f == 0)
            throw new ArgumentException($"inputs: a ({n}, {t}, {f}) array holds no sequence values; every dimension must be at least 1.", nameof(inputs));
        var flat = new float[(long)n * t * f];
        int k = 0;
        for (int r = 0; r < n; r++)
        {
            for (int s = 0; s < t; s++)
            {
                for (int c = 0; c < f; c++)
                {
                    float v = inputs[r, s, c];
                    if (!float.IsFinite(v))
                        throw new ArgumentException($"inputs[{r}, {s}, {c}] (row, step, feature) is {v}; only finite values are allowed.", nameof(inputs));
                    flat[k++] = v;
                }
            }
        }

        return flat;
    }

    /// <summary>The device the data lives on.</summary>
    public NaluDevice Device { get; }

    /// <summary>N, the number of rows.</summary>
    public int Rows { get; }

    /// <summary>I, the input columns.</summary>
    public int Inputs { get; }

    /// <summary>O, the target columns.</summary>
    public int Outputs { get; }

    /// <summary>Whether <see cref="Dispose"/> has run (or the device was disposed).</summary>
    public bool IsDisposed => _disposed || Device.IsDisposed;

    internal void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Device.ThrowIfDisposed();
    }

    /// <summary>The source the kernels read: X and Y as device views.</summary>
    internal StoredSource<DeviceMemory> DeviceSource(SamplingMode mode, int batch, int? sharedSeed)
    {
        ThrowIfDisposed();
        return new StoredSource<DeviceMemory>
        {
            X = new DeviceMemory(_x.View), Y = new DeviceMemory(_y.View), Rows = Rows, Inputs = Inputs, Outputs = Outputs,
            Batch = batch, Mode = (int)mode, PerModelStreams = sharedSeed is null ? 1 : 0, SharedSeed = sharedSeed ?? 0,
        };
    }

    /// <summary>The source the native path reads: X and Y as host pointers (CPU accelerator buffers are host memory).</summary>
    internal unsafe StoredSource<HostMemory> HostSource(SamplingMode mode, int batch, int? sharedSeed)
    {
        ThrowIfDisposed();
        if (Device.Accelerator.AcceleratorType != AcceleratorType.CPU)
            throw new InvalidOperationException("Host pointers exist only for data sets on the CPU accelerator.");
        return new StoredSource<HostMemory>
        {
            X = new HostMemory((float*)_x.NativePtr), Y = new HostMemory((float*)_y.NativePtr), Rows = Rows, Inputs = Inputs,
            Outputs = Outputs, Batch = batch, Mode = (int)mode, PerModelStreams = sharedSeed is null ? 1 : 0, SharedSeed = sharedSeed ?? 0,
        };
    }

    private static void EnsureFinite(ReadOnlySpan<float> data, int columns, string what)
    {
        for (int k = 0; k < data.Length; k++)
        {
            if (!float.IsFinite(data[k]))
                throw new ArgumentException($"{what} row {k / columns}, column {k % columns} is {Describe(data[k])}; only finite values are accepted.", what);
        }
    }

    private static string Describe(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";

    private static float[] Flatten(float[,] values, string what)
    {
        ArgumentNullException.ThrowIfNull(values, what);
        int rows = values.GetLength(0), columns = values.GetLength(1);
        if (columns == 0)
            throw new ArgumentException($"{what} has no columns.", what);
        var flat = new float[checked(rows * columns)];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
                flat[r * columns + c] = values[r, c];
        }

        return flat;
    }

    /// <summary>{Rows} × ({Inputs} → {Outputs}).</summary>
    public override string ToString() => $"{Rows} rows × ({Inputs} inputs → {Outputs} targets)";

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _x.Dispose();
        _y.Dispose();
    }
}
