using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Nalu.Gpu.Devices;

/// <summary>Which backend runs the kernels.</summary>
public enum DeviceKind
{
    /// <summary>CUDA if present, else a usable OpenCL device, else the native CPU path (<see cref="Native"/>).</summary>
    Auto,
    /// <summary>ILGPU's CPU accelerator: every kernel, simulated on OS threads. What CI runs.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through ILGPU's CUDA backend (needs only the driver).</summary>
    Cuda,
    /// <summary>An OpenCL 2.0+ device with the generic address space.</summary>
    OpenCL,
    /// <summary>
    /// The native CPU path: training runs the same unit math as plain C# over host memory on all cores
    /// (no ILGPU view checks); other kernels run on ILGPU's CPU accelerator over the same buffers.
    /// </summary>
    Native,
}

/// <summary>A device ILGPU can see, usable or not.</summary>
/// <param name="Kind">Backend.</param>
/// <param name="Index">Index among the usable devices of that backend (−1 when unusable).</param>
/// <param name="Name">Device name.</param>
/// <param name="Usable">Whether an accelerator can be created.</param>
/// <param name="Reason">Why not, when unusable.</param>
/// <param name="MemoryBytes">Device memory.</param>
public sealed record DeviceInfo(DeviceKind Kind, int Index, string Name, bool Usable, string? Reason, long MemoryBytes);

/// <summary>Raised when the requested backend or device is not available.</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);

/// <summary>
/// An ILGPU context and one accelerator, chosen explicitly or by preference (CUDA, OpenCL, CPU).
/// Asking for an absent backend throws <see cref="DeviceUnavailableException"/>; it never falls back silently.
/// </summary>
/// <remarks>
/// Every context is built with <c>EnableAlgorithms()</c>: without it exp, log and tanh do not compile for CUDA.
/// The CPU accelerator is configured with one simulated thread per core (a warp of 2), which measured
/// lowest launch overhead on small machines.
/// </remarks>
public sealed class NaluDevice : IDisposable
{
    private readonly Context _context;
    private readonly Dictionary<object, object> _kernels = new();

    private readonly Accelerator _accelerator;
    private bool _disposed;

    private NaluDevice(Context context, Accelerator accelerator, DeviceKind kind)
    {
        _context = context;
        _accelerator = accelerator;
        Kind = kind;
    }

    /// <summary>Whether <see cref="Dispose"/> has run; every use of a disposed device throws <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The backend in use.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The device's name as ILGPU reports it.</summary>
    public string Name => Kind == DeviceKind.Native
        ? $"native C# on {Environment.ProcessorCount} cores"
        : _accelerator.Name;

    /// <summary>Short label for tables: <c>cpu</c>, <c>native</c>, or <c>cuda: NVIDIA H100 …</c>.</summary>
    public string ShortName => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.Native => "native",
        _ => $"{Kind.ToString().ToLowerInvariant()}: {_accelerator.Name}",
    };

    /// <summary>The ILGPU accelerator (for callers that add their own kernels).</summary>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public Accelerator Accelerator => _disposed ? throw new ObjectDisposedException(nameof(NaluDevice)) : _accelerator;

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the device was disposed.</summary>
    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Threads a fully occupied launch uses.</summary>
    internal int MaxConcurrentThreads => Accelerator.NumMultiprocessors * Accelerator.MaxNumThreadsPerMultiprocessor;

    /// <summary>
    /// The CPU device every CPU accelerator here uses: one simulated thread per core (rounded up to an even
    /// number, at least 2), in warps of 2.
    /// </summary>
    /// <remarks>
    /// ILGPU 1.5.3 accepts only a power of two for the number of warps per multiprocessor, so a core count such
    /// as 12 cannot be one group of 6 warps. The warps are split instead into multiprocessors: 2·w·m threads with
    /// w the largest power of two dividing the number of warps and m the rest. 12 cores give 3 multiprocessors of
    /// 2 warps of 2; a power of two keeps its single multiprocessor. Kernels here are grid-stride loops launched
    /// with one group per multiprocessor (<see cref="LaunchFor"/>), so every core still gets a thread.
    /// </remarks>
    public static CPUDevice CpuDevice(int? threads = null)
    {
        int count = Math.Max(2, threads ?? Environment.ProcessorCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 1 << 16, nameof(threads));
        int warps = (count + 1) / 2;
        int warpsPerMultiprocessor = warps & -warps;   // the largest power of two that divides warps
        return new CPUDevice(2, warpsPerMultiprocessor, warps / warpsPerMultiprocessor);
    }

    /// <summary>Opens the device of <paramref name="kind"/> (index <paramref name="index"/> among usable ones).</summary>
    /// <exception cref="DeviceUnavailableException">The backend or index is not available here.</exception>
    public static NaluDevice Create(DeviceKind kind = DeviceKind.Auto, int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var context = Context.Create(b => b.CPU(CpuDevice()).Cuda().OpenCL().EnableAlgorithms());
        try
        {
            var (resolved, device) = Resolve(context, kind, index);
            return new NaluDevice(context, device.CreateAccelerator(context), resolved);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static (DeviceKind, Device) Resolve(Context context, DeviceKind kind, int index)
    {
        var cuda = Collect(context.GetCudaDevices());
        var opencl = Collect(context.GetCLDevices());
        var cpu = Collect(context.GetCPUDevices());
        switch (kind)
        {
            case DeviceKind.Auto when cuda.Count > 0:
                return (DeviceKind.Cuda, cuda[0]);
            case DeviceKind.Auto when opencl.Count > 0:
                return (DeviceKind.OpenCL, opencl[0]);
            case DeviceKind.Auto:
                // No GPU: the native path, which trains about 10× faster than ILGPU's CPU accelerator and runs every
                // other kernel on that accelerator over the same buffers.
                return (DeviceKind.Native, cpu[0]);
            case DeviceKind.Cpu:
                return (DeviceKind.Cpu, Pick(cpu, index, "CPU accelerator"));
            case DeviceKind.Native:
                return (DeviceKind.Native, Pick(cpu, index, "CPU accelerator"));
            case DeviceKind.Cuda:
                if (cuda.Count == 0)
                {
                    throw new DeviceUnavailableException(
                        "No CUDA device found: ILGPU needs an NVIDIA GPU and a driver whose unversioned 'libcuda.so' " +
                        "can be loaded (point a symlink named libcuda.so at libcuda.so.1 on LD_LIBRARY_PATH if only the latter exists). " +
                        "Run 'nalu devices' to see what is available.");
                }

                return (DeviceKind.Cuda, Pick(cuda, index, "CUDA device"));
            case DeviceKind.OpenCL:
                if (opencl.Count == 0)
                {
                    throw new DeviceUnavailableException(
                        "No usable OpenCL device found: ILGPU 1.5.3 needs OpenCL C 2.0 with the generic address space " +
                        "(Debian's PoCL 3.1, for one, lacks it) and a loadable 'libOpenCL.so'. " + DescribeUnusableOpenCL());
                }

                return (DeviceKind.OpenCL, Pick(opencl, index, "OpenCL device"));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown device kind.");
        }
    }

    private static List<Device> Collect<T>(Context.DeviceCollection<T> devices) where T : Device
    {
        var list = new List<Device>();
        foreach (var d in devices)
            list.Add(d);
        return list;
    }

    private static Device Pick(List<Device> devices, int index, string what)
    {
        if (index >= devices.Count)
            throw new DeviceUnavailableException($"There is no {what} number {index}; {devices.Count} found.");
        return devices[index];
    }

    private static string DescribeUnusableOpenCL()
    {
        var unusable = ListOpenCL().Where(d => !d.Usable).ToList();
        return unusable.Count == 0
            ? "No OpenCL platform reported any device."
            : "Found but unusable: " + string.Join("; ", unusable.Select(d => $"{d.Name} ({d.Reason})")) + ".";
    }

    /// <summary>Every device ILGPU can see, including OpenCL devices it cannot use, with the reason.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        var result = new List<DeviceInfo>();
        using (var context = Context.Create(b => b.CPU(CpuDevice()).Cuda().EnableAlgorithms()))
        {
            int i = 0;
            foreach (var d in context.GetCudaDevices())
                result.Add(new DeviceInfo(DeviceKind.Cuda, i++, d.Name, true, null, d.MemorySize));
            i = 0;
            foreach (var d in context.GetCPUDevices())
            {
                // ILGPU reports a nominal 8 EiB for its CPU device; the real limit is the host's memory.
                long host = HostMemoryBytes;
                result.Add(new DeviceInfo(DeviceKind.Cpu, i, $"ILGPU CPU accelerator ({d.NumThreads} simulated threads)", true, null, host));
                result.Add(new DeviceInfo(DeviceKind.Native, i++, $"native C# training on {Environment.ProcessorCount} cores", true, null, host));
            }
        }

        result.AddRange(ListOpenCL());
        return result;
    }

    private static IEnumerable<DeviceInfo> ListOpenCL()
    {
        var result = new List<DeviceInfo>();
        try
        {
            // Register every OpenCL device, not only those ILGPU accepts, so we can say why one is refused.
            using var context = Context.Create(b => b.OpenCL(_ => true));
            int usable = 0;
            foreach (var d in context.GetCLDevices())
            {
                string? reason = null;
                if (d.CLStdVersion < new CLCVersion(2, 0))
                    reason = $"OpenCL C {d.CLStdVersion} is below the 2.0 that ILGPU requires";
                else if (!d.Capabilities.GenericAddressSpace)
                    reason = "no generic address space support, which ILGPU requires";
                result.Add(new DeviceInfo(DeviceKind.OpenCL, reason is null ? usable++ : -1,
                    $"{d.Name} [{d.PlatformName}]", reason is null, reason, d.MemorySize));
            }
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            // No OpenCL loader installed: there is simply nothing to list.
        }

        return result;
    }

    /// <summary>Bytes of memory the device offers: the GPU's memory, or the host's for the CPU accelerator and native path.</summary>
    public long MemoryBytes => Accelerator.AcceleratorType == AcceleratorType.CPU ? HostMemoryBytes : Accelerator.MemorySize;

    /// <summary>
    /// Preflight before a large allocation: refuses, with a message that names what needs the memory and how much,
    /// a request for more than the device offers.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">The request does not fit.</exception>
    public void EnsureFits(double bytes, string what)
    {
        long available = MemoryBytes;
        if (bytes > available)
        {
            throw new InsufficientMemoryException(
                $"{what} needs {FormatBytes(bytes)}, more than the {FormatBytes(available)} of memory on {ShortName}. Use fewer models, a smaller batch or smaller evaluation sets.");
        }
    }

    internal static string FormatBytes(double bytes) =>
        bytes >= 1 << 30 ? $"{bytes / (1 << 30):F1} GiB" : bytes >= 1 << 20 ? $"{bytes / (1 << 20):F1} MiB" : $"{bytes / 1024:F1} KiB";

    /// <summary>The memory this process may use on the host (physical memory, or a container's limit).</summary>
    public static long HostMemoryBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Loads a kernel once per device and keeps it strongly referenced (ILGPU caches weakly).</summary>
    internal T Kernel<T>(object key, Func<Accelerator, T> load) where T : class
    {
        lock (_kernels)
        {
            if (!_kernels.TryGetValue(key, out var kernel))
            {
                kernel = load(Accelerator);
                _kernels[key] = kernel;
            }

            return (T)kernel;
        }
    }

    /// <summary>
    /// A launch configuration for a grid-stride loop over <paramref name="workItems"/> items, in groups of
    /// <paramref name="gpuGroupSize"/> threads on a GPU (thread-per-model kernels ask for one warp, so a population of
    /// P models spreads over P/32 multiprocessors rather than P/128).
    /// </summary>
    internal KernelConfig LaunchFor(long workItems, int gpuGroupSize = 128)
    {
        int group = Accelerator.AcceleratorType == AcceleratorType.CPU
            ? Accelerator.MaxNumThreadsPerGroup
            : Math.Min(gpuGroupSize, Accelerator.MaxNumThreadsPerGroup);
        long groupsNeeded = Math.Max(1, (workItems + group - 1) / group);
        int maxGroups = Accelerator.AcceleratorType == AcceleratorType.CPU
            ? Accelerator.NumMultiprocessors
            : Accelerator.NumMultiprocessors * 16;
        return new KernelConfig((int)Math.Min(groupsNeeded, maxGroups), group);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _accelerator.Dispose();
        _context.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Kind}: {Name}";
}
