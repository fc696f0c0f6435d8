using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Kernels.Launch;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;

namespace Nalu.Gpu.Training;

/// <summary>
/// Trains a <see cref="Model"/> (all its P models at once) on an <see cref="ArithmeticTask"/> or on a stored
/// <see cref="Dataset"/>. Arithmetic data is generated on the device from the counter RNG keyed by (model seed,
/// step, sample); stored rows are picked on the device from the same RNG (<see cref="TrainerOptions.Sampling"/>).
/// Either way a seed reproduces a run exactly and nothing crosses to the host inside a step. The host reads the
/// per-model losses between launches, for progress and to stop on divergence.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly Model _model;
    private readonly NaluDevice _device;
    private readonly TrainerOptions _options;
    private readonly OptimizerSettings _settings;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _seeds, _ops;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _learningRates, _state, _losses, _normScales, _scratch;
    private readonly List<Evaluation> _history = new();
    private readonly int[] _hostSeeds, _hostOps;
    private readonly float[] _hostLearningRates;
    private BatchedBuffers? _batched;
    private InterleavedBuffers? _interleaved;
    private readonly GroupPlan? _groupPlan;
    private MemoryBuffer1D<float, Stride1D.Dense>? _groupWork;
    private float[]? _nativePartials, _nativeScratch;
    private NativeTeam? _nativeTeam;
    private readonly List<float[]> _recentLosses = new();
    private readonly List<Reinitialization> _reinitializations = new();
    private bool _disposed;

    /// <summary>Prepares training on the arithmetic task; allocates optimizer state (zeroed) and per-model tables.</summary>
    public Trainer(Model model, ArithmeticTask task, TrainerOptions? options = null)
        : this(model, task, null, null, null, options)
    {
    }

    /// <summary>
    /// Prepares training on a stored data set; allocates optimizer state (zeroed) and per-model tables. Evaluations
    /// report the MSE over every row of <paramref name="validation"/> (as <see cref="Evaluation.Validation"/>, which
    /// <see cref="Best"/> tracks) and of <paramref name="test"/> (<see cref="Evaluation.Test"/>); a set not given
    /// reads NaN. The trainer does not own the data sets: dispose them after it.
    /// </summary>
    /// <exception cref="ArgumentException">A data set on another device, or whose input or target width does not match the model.</exception>
    public Trainer(Model model, Dataset training, TrainerOptions? options = null, Dataset? validation = null, Dataset? test = null)
        : this(model, null, training ?? throw new ArgumentNullException(nameof(training)), validation, test, options)
    {
    }

    private Trainer(Model model, ArithmeticTask? task, Dataset? training, Dataset? validation, Dataset? test, TrainerOptions? options)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (task is null && training is null)
            throw new ArgumentNullException(nameof(task));
        model.ThrowIfDisposed();
        _options = options ?? new TrainerOptions();
        _options.Validate(model.Count);
        IReadOnlyList<ArithmeticOp> ops;
        if (task is not null)
        {
            if (model.Architecture.Inputs != task.SampleInputs)
            {
                throw new ArgumentException(task.IsSequence
                    ? $"The model takes {model.Architecture.Inputs} inputs but the task's sequences have {task.Steps} steps × {task.Inputs} = {task.SampleInputs} values."
                    : $"The model takes {model.Architecture.Inputs} inputs but the task has {task.Inputs}.", nameof(task));
            }
            if (model.Architecture.Outputs != 1)
                throw new ArgumentException($"The arithmetic task has one target; the model has {model.Architecture.Outputs} outputs.", nameof(model));
            ops = _options.Ops ?? Enumerable.Repeat(task.Op, model.Count).ToArray();
            foreach (var op in ops.Distinct())
                _ = new ArithmeticTask(op, task.Inputs, task.Interpolation, task.Extrapolation, task.SubsetSize, task.SubsetGap) { Steps = task.Steps };
        }
        else
        {
            if (_options.Ops is not null)
                throw new ArgumentException("Ops choose arithmetic tasks; a stored data set has its own targets.", nameof(options));
            CheckDataset(model, training!, "training");
            if (validation is not null)
                CheckDataset(model, validation, "validation");
            if (test is not null)
                CheckDataset(model, test, "test");
            ops = Enumerable.Repeat(ArithmeticOp.Add, model.Count).ToArray();   // unused by stored data
        }

        TrainingData = training;
        ValidationData = validation;
        TestData = test;
        _model = model;
        _device = model.Device;
        Task = task;
        _settings = _options.Optimizer.ToSettings();
        Strategy = _options.Strategy != TrainingStrategy.Auto ? _options.Strategy
            : TrainingStrategies.Choose(_device.Kind, model.Count, _options.Batch,
                4L * model.Kernels.GroupSharedFixedFloats(_options.Batch), _device.Accelerator.MaxSharedMemoryPerGroup);
        if (Strategy == TrainingStrategy.Native && _device.Kind is not (DeviceKind.Native or DeviceKind.Cpu))
            throw new ArgumentException($"The native strategy runs on the host; the model lives on a {_device.Kind} device. Use --device native.");
        if (Strategy == TrainingStrategy.Group)
        {
            if (_device.Kind == DeviceKind.Native)
                throw new ArgumentException("The group strategy is a kernel; the native device runs plain C#. Use --device cpu or a GPU.");
            _groupPlan = model.Kernels.PlanGroup(model.Count, _options.Batch, _options.GroupSharedMemoryBytes);
        }

        _hostSeeds = model.Seeds.ToArray();
        _hostOps = ops.Select(o => (int)o).ToArray();
        _hostLearningRates = (_options.LearningRates ?? Enumerable.Repeat(_options.Optimizer.LearningRate, model.Count)).ToArray();

        var accelerator = _device.Accelerator;
        int p = model.Count, n = model.ParameterCount;
        var arch = model.Architecture;
        double batchedBytes = Strategy == TrainingStrategy.Batched
            ? 4.0 * p * _options.Batch * (arch.Inputs + 3.0 * arch.Outputs + model.Kernels.SavedCount) : 0;
        // The interleaved kernel indexes j·P + p in 32-bit arithmetic, as the row layout indexes p·N + j.
        if (Strategy == TrainingStrategy.FusedInterleaved && (long)p * Math.Max(2L * n, model.Kernels.ScratchPerModel) > int.MaxValue)
            throw new ArgumentException($"{p} models of {n} parameters are too many for the interleaved layout (2³¹ floats per buffer).", nameof(model));
        // The interleaved layout trains in its own copies of every per-model buffer.
        double interleavedBytes = Strategy == TrainingStrategy.FusedInterleaved
            ? 4.0 * p * (4.0 * n + model.Kernels.CacheCount + model.Kernels.ScratchPerModel) : 0;
        // A recurrent layer keeps every step's cell input and saved values for the backward: a sample's scratch grows
        // with T, and the message says so, with the numbers, before anything is allocated.
        string perSample = arch.IsRecurrent
            ? $"; a sample through time keeps {model.Kernels.SavedCount:N0} floats ({string.Join(", ", arch.Layers.Where(l => l.IsRecurrent).Select(l => $"{l.Steps} steps of {l}"))})"
            : "";
        if ((long)p * model.Kernels.ScratchPerModel > int.MaxValue)
        {
            throw new InsufficientMemoryException(
                $"Training {p} model(s) needs {(long)p * model.Kernels.ScratchPerModel:N0} floats of per-model scratch{perSample}: more than 2³¹ floats per buffer. Use fewer models or shorter sequences.");
        }

        _device.EnsureFits(4.0 * p * (2.0 * n + model.Kernels.ScratchPerModel) + batchedBytes + interleavedBytes
            + 4.0 * (_groupPlan?.GlobalWorkFloats ?? 0),
            $"Training {p} model(s) with batch {_options.Batch} ({Strategy}){perSample}");
        _seeds = accelerator.Allocate1D(_hostSeeds);
        _ops = accelerator.Allocate1D(_hostOps);
        _learningRates = accelerator.Allocate1D(_hostLearningRates);
        _state = accelerator.Allocate1D<float>(2L * p * n);
        _state.MemSetToZero();
        _losses = accelerator.Allocate1D<float>(p);
        _losses.MemSetToZero();
        _normScales = accelerator.Allocate1D(Enumerable.Repeat(1f, p).ToArray());
        _scratch = accelerator.Allocate1D<float>((long)p * model.Kernels.ScratchPerModel);
        LastLosses = new float[p];
        Diverged = new bool[p];
        Best = new BestEvaluation?[p];
    }

    /// <summary>The task being trained; null when training on a <see cref="Dataset"/>.</summary>
    public ArithmeticTask? Task { get; }

    /// <summary>The stored training set; null when training on an <see cref="ArithmeticTask"/>.</summary>
    public Dataset? TrainingData { get; }

    /// <summary>The stored validation set, evaluated over all its rows in order (null: none).</summary>
    public Dataset? ValidationData { get; }

    /// <summary>The stored test set, evaluated over all its rows in order (null: none).</summary>
    public Dataset? TestData { get; }

    private static void CheckDataset(Model model, Dataset data, string which)
    {
        data.ThrowIfDisposed();
        var arch = model.Architecture;
        if (data.Device != model.Device)
            throw new ArgumentException($"The {which} set lives on {data.Device.ShortName}, a different device than the model's.", which);
        if (data.Inputs != arch.Inputs || data.Outputs != arch.Outputs)
        {
            throw new ArgumentException(
                $"The {which} set has {data.Inputs} input and {data.Outputs} target column(s); the model {arch} takes {arch.Inputs} inputs and has {arch.Outputs} output(s).",
                which);
        }
    }

    /// <summary>The resolved step layout.</summary>
    public TrainingStrategy Strategy { get; }

    /// <summary>Steps trained so far.</summary>
    public int Step { get; private set; }

    /// <summary>Training loss of each model's latest step: the batch MSE, without any regulariser (NAU/NMU sparsity), which only adds to the gradient.</summary>
    public float[] LastLosses { get; private set; }

    /// <summary>Models whose loss became NaN or infinite (their training went on; their results are flagged).</summary>
    public bool[] Diverged { get; }

    /// <summary>Every evaluation so far, in order.</summary>
    public IReadOnlyList<Evaluation> History => _history;

    /// <summary>
    /// Per model, the evaluation with the lowest interpolation (validation) MSE so far: the step at which the
    /// protocol judges a model. Null until the first evaluation; a NaN validation error never counts as best.
    /// </summary>
    public BestEvaluation?[] Best { get; }

    /// <summary>
    /// Every re-initialisation of a stuck model so far (<see cref="TrainerOptions.ReinitializeEvery"/>), in order: which model,
    /// at which step.
    /// </summary>
    public IReadOnlyList<Reinitialization> Reinitializations => _reinitializations;

    /// <summary>The optimizer state (P·N·2: per parameter its two slots, e.g. Adam's m and v), for tests.</summary>
    internal float[] GetOptimizerState() => _state.GetAsArray1D();

    /// <summary>With re-initialisation on, ends launches at the steps whose loss it samples (so the samples do not depend on the launch size).</summary>
    private int LimitToLossSample(int chunk)
    {
        int every = _options.ReinitializeEvery / TrainerOptions.ReinitializeSamples;
        return every > 0 ? Math.Min(chunk, every - Step % every) : chunk;
    }

    /// <summary>
    /// iNALU's re-initialisation (Schlör et al.): the batch loss is sampled at <see cref="TrainerOptions.ReinitializeSamples"/>
    /// evenly spaced steps of each window of <see cref="TrainerOptions.ReinitializeEvery"/> steps. At the window's end a model
    /// whose loss stopped falling — mean of the first half ≤ mean + standard deviation of the second half, and that second
    /// mean &gt; 1 — gets new parameters from U(−2, 2), keyed by its seed and the step, and zeroed optimizer moments; the other
    /// models are not touched.
    /// </summary>
    private void ReinitializeStuckModels()
    {
        int window = _options.ReinitializeEvery;
        if (window == 0 || Step % (window / TrainerOptions.ReinitializeSamples) != 0)
            return;
        _recentLosses.Add(LastLosses.ToArray());
        if (Step % window != 0)
            return;
        // A window that began before this trainer did (fewer samples) is not judged.
        bool full = _recentLosses.Count == TrainerOptions.ReinitializeSamples;
        var samples = _recentLosses.ToArray();
        _recentLosses.Clear();
        if (!full)
            return;
        int n = _model.ParameterCount, half = samples.Length / 2;
        bool any = false;
        for (int m = 0; m < _model.Count; m++)
        {
            var losses = samples.Select(l => (double)l[m]).ToArray();
            if (!IsStuck(losses[..half], losses[half..]))
                continue;
            var values = new float[n];
            for (int k = 0; k < n; k++)
                values[k] = 4f * CounterRng.Uniform((uint)_hostSeeds[m], CounterRng.ReinitStream, (uint)Step, (uint)k) - 2f;
            _model.SetParameters(values, m);
            _state.View.SubView(2L * m * n, 2L * n).MemSetToZero();
            _reinitializations.Add(new Reinitialization(m, Step));
            any = true;
        }

        // Back onto the units' feasible sets (e.g. an NAU's [−1, 1]); a clamp leaves the other models' values unchanged.
        if (any)
            _model.Kernels.Constrain(new BatchShape { Models = _model.Count, Batch = 1, Chunks = 1, Step = Step }, new UnitBuffers { Parameters = _model.Parameters });
    }

    /// <summary>Schlör et al.'s test: mean(first) ≤ mean(second) + std(second) (population std) and mean(second) &gt; 1.</summary>
    internal static bool IsStuck(double[] first, double[] second)
    {
        double a = first.Average(), b = second.Average();
        double std = Math.Sqrt(second.Select(v => (v - b) * (v - b)).Average());
        return a <= b + std && b > 1;
    }

    /// <summary>The arithmetic task's source of <paramref name="stream"/> over <paramref name="range"/>.</summary>
    private static ArithmeticSource Arithmetic(ArithmeticTask task, uint stream, SampleInterval range) =>
        new(task.Inputs, task.SubsetSize, task.SubsetGap, (int)stream, range.ToDevice(), task.Steps);

    /// <summary>
    /// Trains <paramref name="steps"/> more steps, evaluating (and recording in <see cref="History"/> and <see cref="Best"/>)
    /// every <see cref="TrainerOptions.EvaluateEvery"/> steps, and reporting every <see cref="TrainerOptions.ReportEvery"/>
    /// steps, at each evaluation and at the end.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled between launches; the steps done so far stay trained.</exception>
    public void Train(int steps, Action<TrainingProgress>? onProgress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        if ((long)Step + steps > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(steps), "Total steps exceed 2^31 − 1.");
        int target = Step + steps, first = Step;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int report = _options.ReportEvery;
        _model.ParametersChanged();
        while (Step < target)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int chunk = Math.Min(_options.StepsPerLaunch, target - Step);
            if (_options.EvaluateEvery > 0)
                chunk = Math.Min(chunk, _options.EvaluateEvery - Step % _options.EvaluateEvery);
            if (report > 0)
                chunk = Math.Min(chunk, report - Step % report);
            chunk = LimitToLossSample(chunk);
            if (Strategy == TrainingStrategy.Fused)
                RunFused(chunk);
            else if (Strategy == TrainingStrategy.FusedInterleaved)
                RunInterleaved(chunk);
            else if (Strategy == TrainingStrategy.Group)
                RunGroup(chunk);
            else if (Strategy == TrainingStrategy.Native)
                RunNative(chunk);
            else
                RunBatched(chunk);
            Step += chunk;
            ReadLosses();
            ReinitializeStuckModels();

            Evaluation? evaluation = null;
            if (_options.EvaluateEvery > 0 && Step % _options.EvaluateEvery == 0)
                evaluation = Evaluate(record: true);
            if (onProgress is not null && (report == 0 || Step % report == 0 || evaluation is not null || Step == target))
            {
                var elapsed = clock.Elapsed;
                onProgress(new TrainingProgress(Step, target, LastLosses, evaluation)
                {
                    Elapsed = elapsed,
                    StepsPerSecond = elapsed.TotalSeconds > 0 ? (Step - first) / elapsed.TotalSeconds : 0,
                });
            }
        }
    }

    /// <summary>As <see cref="Train(int, Action{TrainingProgress}?, CancellationToken)"/>, reporting through an <see cref="IProgress{T}"/>.</summary>
    public void Train(int steps, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken = default) =>
        Train(steps, progress is null ? null : progress.Report, cancellationToken);

    /// <summary>
    /// Trains on a thread-pool thread, so a UI or a server stays responsive; the launches themselves are synchronous. Do not
    /// use the trainer or its model from another thread until the task completes.
    /// </summary>
    public Task TrainAsync(int steps, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        System.Threading.Tasks.Task.Run(() => Train(steps, progress, cancellationToken), cancellationToken);

    private void ReadLosses()
    {
        LastLosses = _losses.GetAsArray1D();
        for (int p = 0; p < LastLosses.Length; p++)
        {
            if (!float.IsFinite(LastLosses[p]))
                Diverged[p] = true;
        }
    }

    private FusedStepArgs FusedArgs(int steps) => new()
    {
        Models = _model.Count,
        Batch = _options.Batch,
        FirstStep = Step,
        Steps = steps,
        Seeds = _seeds.View,
        Ops = _ops.View,
        Optimizer = _settings,
        LearningRates = _learningRates.View,
        Parameters = _model.Parameters,
        Gradients = _model.Gradients,
        Cache = _model.Cache,
        State = _state.View,
        Scratch = _scratch.View,
        Losses = _losses.View,
    };

    private void RunNative(int steps)
    {
        int workers = _options.Threads ?? Environment.ProcessorCount;
        int n = _model.ParameterCount, scratch = _model.Kernels.ScratchPerModel;
        _nativePartials ??= GC.AllocateArray<float>(FusedTrainingKernel.Slices(_options.Batch) * n, pinned: true);
        _nativeScratch ??= GC.AllocateArray<float>(workers * scratch, pinned: true);
        int slices = FusedTrainingKernel.Slices(_options.Batch);
        if (NativeTeam.SplitsBatch(_model.Count, workers, slices))
            _nativeTeam ??= new NativeTeam(Math.Min(workers, slices));
        var losses = new float[_model.Count];
        var args = FusedArgs(steps);
        var buffers = new NativeBuffers
        {
            Parameters = _model.HostPointers.Parameters,
            Gradients = _model.HostPointers.Gradients,
            Cache = _model.HostPointers.Cache,
            State = _state.NativePtr,
            Scratch = _scratch.NativePtr,
            Partials = Marshal.UnsafeAddrOfPinnedArrayElement(_nativePartials, 0),
            WorkerScratch = Marshal.UnsafeAddrOfPinnedArrayElement(_nativeScratch, 0),
            Workers = workers,
            Team = _nativeTeam,
            Seeds = _hostSeeds,
            Ops = _hostOps,
            LearningRates = _hostLearningRates,
            Losses = losses,
        };
        if (Task is { } task)
            _model.Kernels.NativeSteps(Arithmetic(task, CounterRng.TrainStream, task.Interpolation), args, buffers);
        else
            _model.Kernels.NativeSteps(TrainingData!.HostSource(_options.Sampling, _options.Batch, _options.DataSeed), args, buffers);
        _losses.View.CopyFromCPU(losses);
    }

    private void RunFused(int steps)
    {
        if (Task is { } task)
            _model.Kernels.FusedSteps(Arithmetic(task, CounterRng.TrainStream, task.Interpolation), FusedArgs(steps));
        else
            _model.Kernels.FusedSteps(TrainingData!.DeviceSource(_options.Sampling, _options.Batch, _options.DataSeed), FusedArgs(steps));
    }

    /// <summary>
    /// The fused step over model-interleaved copies: parameters and optimizer state are transposed in, trained, and
    /// transposed back with the gradient and cache, so the model's row-major buffers hold exactly what
    /// <see cref="RunFused"/> leaves there.
    /// </summary>
    private void RunInterleaved(int steps)
    {
        _interleaved ??= new InterleavedBuffers(_model);
        var b = _interleaved;
        var common = CommonKernels.For(_device);
        int p = _model.Count, n = _model.ParameterCount, c = _model.Kernels.CacheCount;
        common.Interleave(p, n, _model.Parameters, b.Parameters.View);
        common.Interleave(p, 2 * n, _state.View, b.State.View);
        var args = FusedArgs(steps) with
        {
            Parameters = b.Parameters.View, Gradients = b.Gradients.View, Cache = b.Cache.View,
            State = b.State.View, Scratch = b.Scratch.View,
        };
        if (Task is { } task)
            _model.Kernels.InterleavedSteps(Arithmetic(task, CounterRng.TrainStream, task.Interpolation), args);
        else
            _model.Kernels.InterleavedSteps(TrainingData!.DeviceSource(_options.Sampling, _options.Batch, _options.DataSeed), args);
        common.Deinterleave(p, n, b.Parameters.View, _model.Parameters);
        common.Deinterleave(p, 2 * n, b.State.View, _state.View);
        common.Deinterleave(p, n, b.Gradients.View, _model.Gradients);
        common.Deinterleave(p, c, b.Cache.View, _model.Cache);
    }

    private void RunGroup(int steps)
    {
        var plan = _groupPlan!;
        _groupWork ??= _device.Accelerator.Allocate1D<float>(Math.Max(1L, plan.GlobalWorkFloats));
        if (Task is { } task)
            _model.Kernels.GroupSteps(Arithmetic(task, CounterRng.TrainStream, task.Interpolation), FusedArgs(steps), plan, _groupWork.View);
        else
            _model.Kernels.GroupSteps(TrainingData!.DeviceSource(_options.Sampling, _options.Batch, _options.DataSeed), FusedArgs(steps), plan, _groupWork.View);
    }

    private void RunBatched(int steps)
    {
        _batched ??= new BatchedBuffers(_model, _options.Batch);
        var b = _batched;
        var common = CommonKernels.For(_device);
        int p = _model.Count, batch = _options.Batch, outputs = _model.Architecture.Outputs;
        var shape = new BatchShape { Models = p, Batch = batch, Chunks = b.Chunks, NeedInputGradient = 0, Training = 1 };
        var views = b.Views(_model) with { Seeds = _seeds.View, Losses = _losses.View };
        var optimizer = new OptimizerBuffers
        {
            Parameters = _model.Parameters, Gradients = _model.Gradients, State = _state.View,
            LearningRates = _learningRates.View, NormScales = _normScales.View,
        };
        for (int s = 0; s < steps; s++)
        {
            int step = Step + s;
            shape.Step = step;
            var data = new DataShape { Models = p, Batch = batch, Inputs = _model.Architecture.Inputs, Outputs = outputs, Step = step };
            if (Task is { } task)
                common.Generate(Arithmetic(task, CounterRng.TrainStream, task.Interpolation), data, _seeds.View, _ops.View, views.X, b.Targets.View);
            else
                common.Generate(TrainingData!.DeviceSource(_options.Sampling, batch, _options.DataSeed), data, _seeds.View, _ops.View, views.X, b.Targets.View);
            _model.Kernels.PrepareCache(shape, views);
            _model.Kernels.Forward(shape, views);
            common.MseGradient(p, batch * outputs, views.Y, b.Targets.View, views.Dy);
            // Every step: a regulariser may depend on the step's loss (FinishGradients reads it).
            common.MseLoss(p, batch * outputs, views.Y, b.Targets.View, _losses.View);
            _model.Kernels.Backward(shape, views);
            _model.Kernels.ReduceGradients(shape, views);
            _model.Kernels.FinishGradients(shape, views);
            if (_settings.ClipNorm > 0f)
                _model.Kernels.NormScales(p, step, _settings, optimizer);
            _model.Kernels.Update(p, step, _settings, optimizer);
            _model.Kernels.Constrain(shape, views);
        }
    }

    /// <summary>
    /// Evaluates every model on the validation and test sets: the arithmetic task's interpolation and extrapolation
    /// sets, or every row of the stored validation and test sets. With <paramref name="record"/> the evaluation is also
    /// added to <see cref="History"/> and updates <see cref="Best"/> (what training's periodic evaluations do); without,
    /// nothing is recorded, so calling it after training never records a step twice.
    /// </summary>
    public Evaluation Evaluate(bool record = false)
    {
        ThrowIfDisposed();
        double[] validation, test;
        if (Task is { } task)
        {
            validation = SetError(Arithmetic(task, CounterRng.InterpolationStream, task.Interpolation), _options.ValidationSamples);
            test = SetError(Arithmetic(task, CounterRng.ExtrapolationStream, task.Extrapolation), _options.TestSamples);
        }
        else
        {
            validation = SetError(ValidationData);
            test = SetError(TestData);
        }

        var evaluation = new Evaluation(Step, validation, test);
        if (!record)
            return evaluation;
        _history.Add(evaluation);
        float[]? parameters = null;
        for (int m = 0; m < _model.Count; m++)
        {
            double score = evaluation.Interpolation[m];
            if (double.IsNaN(score) || (Best[m] is { } best && best.Interpolation <= score))
                continue;
            parameters ??= _model.GetParameters();
            Best[m] = new BestEvaluation(Step, score, evaluation.Extrapolation[m],
                parameters.AsSpan(m * _model.ParameterCount, _model.ParameterCount).ToArray());
        }

        return evaluation;
    }

    /// <summary>Every row of a stored set, in order (NaN for every model when there is no set).</summary>
    private double[] SetError(Dataset? data)
    {
        if (data is null)
            return Enumerable.Repeat(double.NaN, _model.Count).ToArray();
        int chunks = Chunks(data.Rows);
        return Strategy == TrainingStrategy.Native
            ? NativeSetError(data.HostSource(SamplingMode.InOrder, 1, 0), data.Rows, chunks)
            : KernelSetError(data.DeviceSource(SamplingMode.InOrder, 1, 0), data.Rows, chunks);
    }

    private double[] SetError(ArithmeticSource source, int samples)
    {
        int chunks = Chunks(samples);
        return Strategy == TrainingStrategy.Native ? NativeSetError(source, samples, chunks) : KernelSetError(source, samples, chunks);
    }

    private int Chunks(int samples) => _options.EvaluationChunks > 0
        ? Math.Min(_options.EvaluationChunks, samples)
        : (int)Math.Clamp(_device.MaxConcurrentThreads / _model.Count, 1, Math.Min(samples, 1024));

    private double[] KernelSetError<TSource>(TSource source, int samples, int chunks) where TSource : struct, IDataSource
    {
        int p = _model.Count;
        var accelerator = _device.Accelerator;
        using var squared = accelerator.Allocate1D<double>((long)p * chunks);
        using var nonFinite = accelerator.Allocate1D<int>((long)p * chunks);
        using var scratch = accelerator.Allocate1D<float>((long)p * chunks * _model.Kernels.EvaluationScratch);
        _model.PrepareCache();
        _model.Kernels.Evaluate(source, new EvaluationArgs
        {
            Models = p, Samples = samples, Chunks = chunks, Seeds = _seeds.View, Ops = _ops.View,
            Parameters = _model.Parameters, Cache = _model.Cache, Scratch = scratch.View,
            SquaredErrors = squared.View, NonFinite = nonFinite.View,
        });
        return MeanSquaredErrors(squared.GetAsArray1D(), nonFinite.GetAsArray1D(), samples, chunks);
    }

    /// <summary>The evaluation kernel's code run natively on all cores over the model's host buffers.</summary>
    private double[] NativeSetError<TSource>(TSource source, int samples, int chunks) where TSource : struct, IDataSource
    {
        int p = _model.Count, workers = _options.Threads ?? Environment.ProcessorCount;
        var sums = new double[p * chunks];
        var bad = new int[p * chunks];
        var scratch = GC.AllocateArray<float>(workers * _model.Kernels.EvaluationScratch, pinned: true);
        _model.PrepareCache();
        _model.Kernels.NativeEvaluate(source, new EvaluationArgs
        {
            Models = p, Samples = samples, Chunks = chunks,
        }, new NativeBuffers
        {
            Parameters = _model.HostPointers.Parameters,
            Gradients = _model.HostPointers.Gradients,
            Cache = _model.HostPointers.Cache,
            State = IntPtr.Zero,
            Scratch = IntPtr.Zero,
            Partials = IntPtr.Zero,
            WorkerScratch = Marshal.UnsafeAddrOfPinnedArrayElement(scratch, 0),
            Workers = workers,
            Seeds = _hostSeeds,
            Ops = _hostOps,
            LearningRates = _hostLearningRates,
            Losses = [],
        }, sums, bad);
        GC.KeepAlive(scratch);
        return MeanSquaredErrors(sums, bad, samples, chunks);
    }

    private double[] MeanSquaredErrors(double[] sums, int[] bad, int samples, int chunks)
    {
        int p = _model.Count;
        var result = new double[p];
        int outputs = _model.Architecture.Outputs;
        for (int m = 0; m < p; m++)
        {
            double sum = 0;
            int badCount = 0;
            for (int c = 0; c < chunks; c++)
            {
                sum += sums[m * chunks + c];
                badCount += bad[m * chunks + c];
            }

            result[m] = badCount > 0 ? double.NaN : sum / ((double)samples * outputs);
        }

        return result;
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the trainer, its model or the model's device was disposed.</summary>
    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _model.ThrowIfDisposed();
        TrainingData?.ThrowIfDisposed();
        ValidationData?.ThrowIfDisposed();
        TestData?.ThrowIfDisposed();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _seeds.Dispose();
        _ops.Dispose();
        _learningRates.Dispose();
        _state.Dispose();
        _losses.Dispose();
        _normScales.Dispose();
        _scratch.Dispose();
        _batched?.Dispose();
        _interleaved?.Dispose();
        _groupWork?.Dispose();
        _nativeTeam?.Dispose();
    }

    /// <summary>Model-interleaved copies of every per-model buffer, for <see cref="TrainingStrategy.FusedInterleaved"/>.</summary>
    private sealed class InterleavedBuffers : IDisposable
    {
        public InterleavedBuffers(Model model)
        {
            var a = model.Device.Accelerator;
            long p = model.Count, n = model.ParameterCount;
            Parameters = a.Allocate1D<float>(p * n);
            Gradients = a.Allocate1D<float>(p * n);
            Cache = a.Allocate1D<float>(Math.Max(1, p * model.Kernels.CacheCount));
            State = a.Allocate1D<float>(2 * p * n);
            Scratch = a.Allocate1D<float>(p * model.Kernels.ScratchPerModel);
        }

        public MemoryBuffer1D<float, Stride1D.Dense> Parameters { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Gradients { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Cache { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> State { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Scratch { get; }

        public void Dispose()
        {
            Parameters.Dispose();
            Gradients.Dispose();
            Cache.Dispose();
            State.Dispose();
            Scratch.Dispose();
        }
    }

    /// <summary>Batch-sized buffers for the batched layout, allocated on first use.</summary>
    private sealed class BatchedBuffers : IDisposable
    {
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _x, _y, _dy, _saved, _partials;

        public BatchedBuffers(Model model, int batch)
        {
            var a = model.Device.Accelerator;
            int p = model.Count;
            Chunks = model.BackwardChunks(batch);
            var arch = model.Architecture;
            _x = a.Allocate1D<float>((long)p * batch * arch.Inputs);
            _y = a.Allocate1D<float>((long)p * batch * arch.Outputs);
            _dy = a.Allocate1D<float>((long)p * batch * arch.Outputs);
            _saved = a.Allocate1D<float>(Math.Max(1L, (long)p * batch * model.Kernels.SavedCount));
            _partials = a.Allocate1D<float>((long)p * Chunks * model.ParameterCount);
            Targets = a.Allocate1D<float>((long)p * batch * arch.Outputs);
        }

        public int Chunks { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Targets { get; }

        public UnitBuffers Views(Model model) => new()
        {
            Parameters = model.Parameters, Cache = model.Cache, Gradients = model.Gradients, Partials = _partials.View,
            X = _x.View, Y = _y.View, Saved = _saved.View, Dy = _dy.View, Dx = _x.View,
        };

        public void Dispose()
        {
            _x.Dispose();
            _y.Dispose();
            _dy.Dispose();
            _saved.Dispose();
            _partials.Dispose();
            Targets.Dispose();
        }
    }
}
