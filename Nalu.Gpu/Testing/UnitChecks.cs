using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Kernels.Units;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Testing;

/// <summary>A failed <see cref="UnitChecks"/> check; the message lists the first mismatches.</summary>
public sealed class UnitCheckException(string message) : Exception(message);

/// <summary>A double reference's forward: <c>(parameters, x) → y</c>, batched (x is B×I, y is B×O, row-major).</summary>
public delegate double[] ReferenceForward(double[] parameters, double[] x);

/// <summary>
/// A double reference's backward: <c>(parameters, x, dy) → (∂L/∂parameters summed over the batch, ∂L/∂x)</c>.
/// </summary>
public delegate (double[] ParameterGradient, double[] InputGradient) ReferenceBackward(double[] parameters, double[] x, double[] dy);

/// <summary>
/// The library's own unit checks, for authors of a custom <see cref="IUnit"/> (usable from any test framework: a failed
/// check throws <see cref="UnitCheckException"/>). The three layers of docs/testing.md: (a) the double reference's
/// backward against central finite differences of its forward; (b) the float unit, run by the library's kernels on a
/// device (or on the host for <see cref="DeviceKind.Native"/>), against the reference; (c) the fused training kernel
/// compiled for CUDA (PTX) and OpenCL C without a device.
/// </summary>
public static class UnitChecks
{
    private const double Step = 1e-6;

    /// <summary>Finite-difference tolerances (absolute, relative) of <see cref="CompareGradient"/>.</summary>
    public static readonly (double Atol, double Rtol) FiniteDifferenceTolerance = (1e-6, 1e-5);

    /// <summary>Float kernel values against the double reference (absolute, relative).</summary>
    public static readonly (double Atol, double Rtol) ValueTolerance = (1e-5, 1e-4);

    /// <summary>Float kernel gradients against the double reference (absolute, relative).</summary>
    public static readonly (double Atol, double Rtol) GradientTolerance = (1e-4, 2e-3);

    /// <summary>The compile-only targets: two CUDA generations and OpenCL C 2.0.</summary>
    public static readonly IReadOnlyList<string> Backends = ["PTX sm_75", "PTX sm_90", "OpenCL C 2.0"];

    // ------------------------------------------------------------------ (a) reference vs finite differences

    /// <summary>
    /// (a) Checks <paramref name="backward"/> against central finite differences of <paramref name="forward"/> (in double)
    /// for the scalar loss <c>L = Σ y·r</c> with r ~ U(−1, 1) from <paramref name="rng"/>, so ∂L/∂y = r; returns the
    /// analytic gradients.
    /// </summary>
    /// <exception cref="UnitCheckException">A non-finite output, wrong gradient lengths, or a mismatch.</exception>
    public static (double[] ParameterGradient, double[] InputGradient) ReferenceGradient(
        string what, Random rng, double[] parameters, double[] x, ReferenceForward forward, ReferenceBackward backward)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(backward);
        var y = forward(parameters, x);
        foreach (double v in y)
            Ensure(double.IsFinite(v), $"{what}: non-finite output {v}.");
        var r = new double[y.Length];
        for (int k = 0; k < r.Length; k++)
            r[k] = -1 + 2 * rng.NextDouble();
        var result = backward(parameters, x, r);
        Ensure(result.ParameterGradient.Length == parameters.Length, $"{what}: {result.ParameterGradient.Length} parameter gradients for {parameters.Length} parameters.");
        Ensure(result.InputGradient.Length == x.Length, $"{what}: {result.InputGradient.Length} input gradients for {x.Length} inputs.");
        CompareGradient($"{what} ∂L/∂parameters", parameters, result.ParameterGradient, p => Dot(forward(p, x), r));
        CompareGradient($"{what} ∂L/∂x", x, result.InputGradient, xx => Dot(forward(parameters, xx), r));
        return result;
    }

    /// <summary>(a) with a seed: <see cref="ReferenceGradient(string, Random, double[], double[], ReferenceForward, ReferenceBackward)"/>.</summary>
    public static (double[] ParameterGradient, double[] InputGradient) ReferenceGradient(
        string what, int seed, double[] parameters, double[] x, ReferenceForward forward, ReferenceBackward backward) =>
        ReferenceGradient($"{what} (seed {seed})", new Random(seed), parameters, x, forward, backward);

    /// <summary>
    /// An analytic gradient of <paramref name="loss"/> at <paramref name="point"/> against central differences with step
    /// <c>1e-6·max(1, |p|)</c>; the limit is <c>atol·(1 + 1e-3·|L|) + rtol·max(|fd|, |analytic|)</c>.
    /// </summary>
    /// <exception cref="UnitCheckException">A mismatch (the first 8 are listed).</exception>
    public static void CompareGradient(string what, double[] point, double[] analytic, Func<double[], double> loss,
        double? atol = null, double? rtol = null)
    {
        double a = atol ?? FiniteDifferenceTolerance.Atol, rt = rtol ?? FiniteDifferenceTolerance.Rtol;
        var bad = new List<string>();
        double l0 = loss(point);
        var probe = (double[])point.Clone();
        for (int j = 0; j < point.Length; j++)
        {
            double h = Step * Math.Max(1, Math.Abs(point[j]));
            probe[j] = point[j] + h;
            double plus = loss(probe);
            probe[j] = point[j] - h;
            double minus = loss(probe);
            probe[j] = point[j];
            double fd = (plus - minus) / (2 * h);
            double limit = a * (1 + 1e-3 * Math.Abs(l0)) + rt * Math.Max(Math.Abs(fd), Math.Abs(analytic[j]));
            if (!(Math.Abs(fd - analytic[j]) <= limit) && bad.Count < 8)
                bad.Add($"[{j}] analytic {analytic[j]:G12}, finite difference {fd:G12} (limit {limit:G3})");
        }

        Ensure(bad.Count == 0, $"{what}: mismatches\n  " + string.Join("\n  ", bad));
    }

    // ------------------------------------------------------------------ (b) unit on a device vs reference

    /// <summary>
    /// (b) Runs <paramref name="unit"/> on <paramref name="device"/> for a population of P models
    /// (<paramref name="parameters"/> holds P·ParameterCount values, <paramref name="x"/> P·B·I) with the library's batch
    /// kernels (cache, forward, backward in 3 chunks, reduction, finish at step 0), or, on <see cref="DeviceKind.Native"/>,
    /// with the unit's own methods over host memory as the native path runs them; compares y, ∂L/∂parameters and ∂L/∂x
    /// with the double reference of each model, fed the same float-rounded values. dy is U(−1, 1) from
    /// <paramref name="seed"/>. The reference's gradient must be the finished one, with the regulariser's gradient at step 0
    /// (none for most units) included.
    /// </summary>
    /// <exception cref="UnitCheckException">A mismatch beyond <see cref="ValueTolerance"/> or <see cref="GradientTolerance"/> (or the given ones).</exception>
    public static void KernelMatchesReference<TUnit>(NaluDevice device, TUnit unit, float[] parameters, float[] x, int batch,
        ReferenceForward forward, ReferenceBackward backward, int seed = 1,
        (double Atol, double Rtol)? valueTolerance = null, (double Atol, double Rtol)? gradientTolerance = null)
        where TUnit : struct, IUnit
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        int n = unit.ParameterCount, inputs = unit.Inputs, outputs = unit.Outputs;
        if (n < 1 || parameters.Length == 0 || parameters.Length % n != 0)
            throw new ArgumentException($"{parameters.Length} parameters is not a whole number of models of {n}.", nameof(parameters));
        int models = parameters.Length / n;
        if (x.Length != models * batch * inputs)
            throw new ArgumentException($"x holds {x.Length} values; {models} model(s) × {batch} samples × {inputs} inputs = {models * batch * inputs}.", nameof(x));
        var rng = new Random(seed);
        var dy = new float[models * batch * outputs];
        for (int k = 0; k < dy.Length; k++)
            dy[k] = (float)(-1 + 2 * rng.NextDouble());

        var (y, gradients, dx) = device.Kind == DeviceKind.Native
            ? RunOnHost(unit, models, batch, parameters, x, dy)
            : RunKernels(device, unit, models, batch, parameters, x, dy);

        string name = $"{typeof(TUnit).Name} {inputs}→{outputs} on {device.ShortName}";
        for (int p = 0; p < models; p++)
        {
            var pd = ToDouble(parameters.AsSpan(p * n, n));
            var xd = ToDouble(x.AsSpan(p * batch * inputs, batch * inputs));
            var dyd = ToDouble(dy.AsSpan(p * batch * outputs, batch * outputs));
            var expectedY = forward(pd, xd);
            var (expectedGrad, expectedDx) = backward(pd, xd, dyd);
            Compare(expectedY, y.AsSpan(p * batch * outputs, batch * outputs), valueTolerance ?? ValueTolerance, $"{name}, model {p}: y");
            Compare(expectedGrad, gradients.AsSpan(p * n, n), gradientTolerance ?? GradientTolerance, $"{name}, model {p}: ∂L/∂parameters");
            Compare(expectedDx, dx.AsSpan(p * batch * inputs, batch * inputs), gradientTolerance ?? GradientTolerance, $"{name}, model {p}: ∂L/∂x");
        }
    }

    private static (float[] Y, float[] Gradients, float[] Dx) RunKernels<TUnit>(
        NaluDevice device, TUnit unit, int models, int batch, float[] parameters, float[] x, float[] dy)
        where TUnit : struct, IUnit
    {
        var acc = device.Accelerator;
        int n = unit.ParameterCount, chunks = Math.Min(3, batch);
        var shape = new BatchShape { Models = models, Batch = batch, Chunks = chunks, NeedInputGradient = 1, Step = 0 };
        var owned = new List<IDisposable>();
        ArrayView<float> Buffer(long length, float[]? values = null)
        {
            var buffer = acc.Allocate1D<float>(Math.Max(1, length));
            owned.Add(buffer);
            if (values is not null)
                buffer.View.SubView(0, values.Length).CopyFromCPU(values);
            else
                buffer.MemSetToZero();
            return buffer.View;
        }

        try
        {
            long rows = (long)models * batch;
            var b = new UnitBuffers
            {
                Parameters = Buffer(parameters.Length, parameters),
                Cache = Buffer((long)models * unit.CacheCount),
                Gradients = Buffer(parameters.Length),
                Partials = Buffer((long)models * chunks * n),
                X = Buffer(x.Length, x),
                Y = Buffer(rows * unit.Outputs),
                Saved = Buffer(rows * unit.SavedCount),
                Dy = Buffer(dy.Length, dy),
                Dx = Buffer(rows * unit.Inputs),
            };
            var kernels = new ModelKernels<TUnit>(device, unit);
            kernels.PrepareCache(shape, b);
            kernels.Forward(shape, b);
            kernels.Backward(shape, b);
            kernels.ReduceGradients(shape, b);
            kernels.FinishGradients(shape, b);
            acc.Synchronize();
            return (Read(b.Y, rows * unit.Outputs), Read(b.Gradients, parameters.Length), Read(b.Dx, rows * unit.Inputs));
        }
        finally
        {
            foreach (var buffer in owned)
                buffer.Dispose();
        }
    }

    private static float[] Read(ArrayView<float> view, long length)
    {
        var values = new float[length];
        view.SubView(0, length).CopyToCPU(values);
        return values;
    }

    private static unsafe (float[] Y, float[] Gradients, float[] Dx) RunOnHost<TUnit>(
        TUnit unit, int models, int batch, float[] parameters, float[] x, float[] dy)
        where TUnit : struct, IUnit
    {
        int n = unit.ParameterCount, c = unit.CacheCount, s = unit.SavedCount, inputs = unit.Inputs, outputs = unit.Outputs;
        var cache = new float[Math.Max(1, models * c)];
        var y = new float[models * batch * outputs];
        var saved = new float[Math.Max(1, models * batch * s)];
        var gradients = new float[parameters.Length];
        var dx = new float[models * batch * inputs];
        var p = (float[])parameters.Clone();
        fixed (float* pp = p, pc = cache, px = x, py = y, ps = saved, pdy = dy, pg = gradients, pdx = dx)
        {
            HostMemory hp = new(pp), hc = new(pc), hx = new(px), hy = new(py), hs = new(ps), hdy = new(pdy), hg = new(pg), hdx = new(pdx);
            for (int m = 0; m < models; m++)
            {
                for (int e = 0; e < unit.ElementCount; e++)
                    unit.PrepareCache(e, hp, m * n, hc, m * c);
                for (int k = 0; k < batch; k++)
                {
                    int row = m * batch + k;
                    unit.Forward(SampleContext.Inference, hp, m * n, hc, m * c, hx, row * inputs, hy, row * outputs, hs, row * s);
                }

                for (int k = 0; k < batch; k++)
                {
                    int row = m * batch + k;
                    unit.Backward(SampleContext.Inference, hp, m * n, hc, m * c, hx, row * inputs, hs, row * s, hdy, row * outputs, hg, m * n, true, hdx, row * inputs);
                }

                for (int e = 0; e < unit.ElementCount; e++)
                {
                    unit.FinishGradient(e, hp, m * n, hg, m * n);
                    unit.Regularize(e, 0, 0f, hp, m * n, hg, m * n);
                }
            }
        }

        return (y, gradients, dx);
    }

    private static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int k = 0; k < values.Length; k++)
            result[k] = values[k];
        return result;
    }

    private static void Compare(double[] expected, ReadOnlySpan<float> actual, (double Atol, double Rtol) tol, string what)
    {
        Ensure(expected.Length == actual.Length, $"{what}: the reference gives {expected.Length} values, the unit {actual.Length}.");
        var bad = new List<string>();
        for (int i = 0; i < expected.Length && bad.Count < 8; i++)
        {
            double limit = tol.Atol + tol.Rtol * Math.Abs(expected[i]);
            if (!(Math.Abs(expected[i] - actual[i]) <= limit))
                bad.Add($"[{i}] expected {expected[i]:G9}, got {actual[i]:G9} (limit {limit:G3})");
        }

        Ensure(bad.Count == 0, $"{what}: mismatches\n  " + string.Join("\n  ", bad));
    }

    // ------------------------------------------------------------------ (c) compile-only

    /// <summary>
    /// (c) Compiles the fused training kernel (<see cref="FusedTrainingKernel.Steps{TUnit, TSource}"/> over the arithmetic
    /// generator) and the evaluation kernel for <typeparamref name="TUnit"/> to PTX sm_75, PTX sm_90 and OpenCL C 2.0,
    /// without a device; returns the generated code per (kernel, backend).
    /// </summary>
    /// <exception cref="UnitCheckException">The generated code lacks its entry point.</exception>
    /// <exception cref="InternalCompilerException">ILGPU cannot compile the unit (e.g. a .NET method with no GPU implementation).</exception>
    public static IReadOnlyDictionary<string, string> CompileFused<TUnit>() where TUnit : struct, IUnit
    {
        var kernels = new (string Name, MethodInfo Method)[]
        {
            ("FusedTrainingKernel.Steps", typeof(FusedTrainingKernel).GetMethod(nameof(FusedTrainingKernel.Steps))!.MakeGenericMethod(typeof(TUnit), typeof(ArithmeticSource))),
            ("EvaluationKernel.SquaredErrors", typeof(EvaluationKernel).GetMethod(nameof(EvaluationKernel.SquaredErrors))!.MakeGenericMethod(typeof(TUnit), typeof(ArithmeticSource))),
        };
        var result = new Dictionary<string, string>();
        foreach (var (name, method) in kernels)
        {
            foreach (var backend in Backends)
            {
                string code = Compile(method, backend);
                Ensure(backend.StartsWith("PTX", StringComparison.Ordinal) ? code.Contains(".entry", StringComparison.Ordinal) : code.Contains("kernel", StringComparison.Ordinal),
                    $"{name}<{typeof(TUnit).Name}> → {backend}: no entry point in the generated code.");
                result[$"{name}<{typeof(TUnit).Name}> → {backend}"] = code;
            }
        }

        return result;
    }

    /// <summary>
    /// Compiles one explicitly grouped kernel for <paramref name="backend"/> (one of <see cref="Backends"/>, or "PTX sm_80") in a FRESH
    /// context (a failed compile poisons its context); returns the PTX or OpenCL C source.
    /// </summary>
    public static string Compile(MethodInfo kernel, string backend, bool enableAlgorithms = true)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        using var context = Context.Create(b =>
        {
            if (enableAlgorithms)
                b.EnableAlgorithms();
        });
        using var compiler = CreateBackend(context, backend);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        var compiled = compiler.Compile(entry, new KernelSpecialization());
        return compiled switch
        {
            PTXCompiledKernel ptx => ptx.PTXAssembly,
            CLCompiledKernel cl => cl.Source,
            _ => throw new InvalidOperationException($"Unexpected compiled kernel type {compiled.GetType()}."),
        };
    }

    private static Backend CreateBackend(Context context, string backend) => backend switch
    {
        "PTX sm_75" => new PTXBackend(context, CudaArchitecture.SM_75, CudaInstructionSet.ISA_78, null!),
        "PTX sm_80" => new PTXBackend(context, CudaArchitecture.SM_80, CudaInstructionSet.ISA_78, null!),
        "PTX sm_90" => new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!),
        "OpenCL C 2.0" => new CLBackend(context,
            // Float16, Float64, GenericAddressSpace, Int64_Atomics, SubGroups (order of ILGPU's Static/Capabilities.xml).
            new CLCapabilityContext(false, true, true, true, false),
            CLDeviceVendor.Other, CLCVersion.CL20),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, $"Unknown backend; use one of {string.Join(", ", Backends)}."),
    };

    private static double Dot(double[] y, double[] r)
    {
        double sum = 0;
        for (int k = 0; k < y.Length; k++)
            sum += y[k] * r[k];
        return sum;
    }

    private static void Ensure(bool condition, string message)
    {
        if (!condition)
            throw new UnitCheckException(message);
    }
}
