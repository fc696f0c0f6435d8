using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Tasks;

namespace Nalu.Gpu.Training;

/// <summary>Saving and restoring the whole training state (resumable training).</summary>
public sealed partial class Trainer
{
    /// <summary>
    /// Writes the models and the whole training state (<see cref="TrainingState"/>: optimizer moments, step, best
    /// evaluations with their parameters, evaluation history, options) to a checkpoint, atomically (<see cref="IO.SafeFile"/>).
    /// A diverged model is saved as it is (its NaN rows are flagged in the file), so resuming changes nothing.
    /// Resume with <see cref="Checkpoint.Load(string, Devices.NaluDevice, out Checkpoint.Contents)"/>, a new trainer built with
    /// <see cref="TrainingState.Options"/> on the same task or data, and <see cref="Restore(Checkpoint.Contents)"/>: the next
    /// steps are bit-identical to those of a run that never stopped.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(path);
        var parameters = _model.GetParameters();
        Checkpoint.Write(path, _model, Task, parameters, CaptureState());
    }

    /// <summary>The training state now (copies).</summary>
    public TrainingState CaptureState()
    {
        ThrowIfDisposed();
        return new TrainingState
        {
            Step = Step,
            Options = _options with { Strategy = Strategy },
            OptimizerState = _state.GetAsArray1D(),
            LastLosses = LastLosses.ToArray(),
            Diverged = Diverged.ToArray(),
            Best = Best.ToArray(),
            History = _history.ToArray(),
            Reinitializations = _reinitializations.ToArray(),
            RecentLosses = _recentLosses.Select(l => l.ToArray()).ToArray(),
            Data = TrainingData is null ? null : [Record(TrainingData), Record(ValidationData), Record(TestData)],
        };
    }

    private static TrainingState.DataRecord? Record(Dataset? data) =>
        data is null ? null : new TrainingState.DataRecord(data.Rows, data.Inputs, data.Outputs, data.Fingerprint);

    /// <summary>Reads a checkpoint written by <see cref="SaveCheckpoint"/> and restores it (see <see cref="Restore(Checkpoint.Contents)"/>).</summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid checkpoint.</exception>
    /// <exception cref="ArgumentException">It holds no training state, or another run's (named).</exception>
    public void Restore(string path)
    {
        ThrowIfDisposed();
        Restore(Checkpoint.Read(path));
    }

    /// <summary>
    /// Restores the models' parameters and the training state of <paramref name="contents"/>, so that training goes on
    /// exactly as the saved run would have. The checkpoint must come from the same run: the same architecture (regularisers
    /// and their schedules included), seeds, task or stored data sets (by fingerprint), and every option that changes the
    /// numbers (batch, optimizer, learning rates, ops, evaluation settings, resolved strategy, sampling, data seed).
    /// <see cref="TrainerOptions.ReportEvery"/>, <see cref="TrainerOptions.StepsPerLaunch"/> and
    /// <see cref="TrainerOptions.Threads"/> may differ: they do not change the numbers.
    /// </summary>
    /// <exception cref="ArgumentException">No training state, or a difference; the message lists every difference.</exception>
    public void Restore(Checkpoint.Contents contents)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(contents);
        var saved = contents.Training ?? throw new ArgumentException(
            "The checkpoint holds no training state (it was written by Checkpoint.Save or an older version); load it as a model instead.",
            nameof(contents));
        var differences = Differences(contents, saved);
        if (differences.Count > 0)
        {
            throw new ArgumentException(
                $"The checkpoint is of another run; resuming would not continue it: {string.Join("; ", differences)}.", nameof(contents));
        }

        _model.SetParametersAllowingNonFinite(contents.Parameters);
        _state.View.CopyFromCPU(saved.OptimizerState);
        Step = saved.Step;
        LastLosses = saved.LastLosses.ToArray();
        _losses.View.CopyFromCPU(LastLosses);
        saved.Diverged.CopyTo(Diverged, 0);
        for (int m = 0; m < Best.Length; m++)
            Best[m] = saved.Best[m];
        _history.Clear();
        _history.AddRange(saved.History);
        _reinitializations.Clear();
        _reinitializations.AddRange(saved.Reinitializations);
        _recentLosses.Clear();
        _recentLosses.AddRange(saved.RecentLosses.Select(l => l.ToArray()));
    }

    /// <summary>Every way the checkpoint's run differs from this trainer's, as "what: there X, here Y".</summary>
    private List<string> Differences(Checkpoint.Contents contents, TrainingState saved)
    {
        var list = new List<string>();
        void Compare<T>(string what, T there, T here)
        {
            if (!EqualityComparer<T>.Default.Equals(there, here))
                list.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: {there} in the checkpoint, {here} here"));
        }

        void CompareList<T>(string what, IReadOnlyList<T> there, IReadOnlyList<T> here)
        {
            if (!there.SequenceEqual(here))
                list.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: [{string.Join(", ", there.Select(Text))}] in the checkpoint, [{string.Join(", ", here.Select(Text))}] here"));
        }

        string savedArch = Checkpoint.Describe(contents.Architecture), arch = Checkpoint.Describe(_model.Architecture);
        if (savedArch != arch)
            list.Add($"architecture: {contents.Architecture} in the checkpoint, {_model.Architecture} here (or their regularisers differ)");
        CompareList("seeds", contents.Seeds, _model.Seeds);
        if (list.Count > 0)
            return list;   // the rest is per model and would only repeat the difference

        if (Task is { } task)
        {
            if (contents.Task is null)
                list.Add("data: stored data sets in the checkpoint, the arithmetic task here");
            else if (Checkpoint.DescribeTask(contents.Task) != Checkpoint.DescribeTask(task))
                list.Add($"task: {contents.Task.Op} on {contents.Task.Interpolation}→{contents.Task.Extrapolation} in the checkpoint, {task.Op} on {task.Interpolation}→{task.Extrapolation} here (or their subsets differ)");
        }
        else if (saved.Data is null)
        {
            list.Add("data: the arithmetic task in the checkpoint, stored data sets here");
        }
        else
        {
            string[] names = ["training set", "validation set", "test set"];
            var here = new[] { Record(TrainingData), Record(ValidationData), Record(TestData) };
            for (int k = 0; k < 3; k++)
            {
                if (saved.Data[k] != here[k])
                    list.Add($"{names[k]}: {Describe(saved.Data[k])} in the checkpoint, {Describe(here[k])} here");
            }
        }

        var o = saved.Options;
        Compare("batch", o.Batch, _options.Batch);
        var (so, ho) = (o.Optimizer, _options.Optimizer);
        Compare("optimizer", so.Kind, ho.Kind);
        Compare("learning rate", so.LearningRate, ho.LearningRate);
        Compare("beta1", so.Beta1, ho.Beta1);
        Compare("beta2", so.Beta2, ho.Beta2);
        Compare("epsilon", so.Epsilon, ho.Epsilon);
        Compare("clip value", so.ClipValue, ho.ClipValue);
        Compare("clip norm", so.ClipNorm, ho.ClipNorm);
        Compare("strategy", o.Strategy, Strategy);
        Compare("evaluate-every", o.EvaluateEvery, _options.EvaluateEvery);
        Compare("evaluation chunks", o.EvaluationChunks, _options.EvaluationChunks);
        Compare("re-initialisation window", o.ReinitializeEvery, _options.ReinitializeEvery);
        if (o.LearningRates is not null || _options.LearningRates is not null)
        {
            var savedRates = (o.LearningRates ?? Enumerable.Repeat(o.Optimizer.LearningRate, _model.Count)).ToArray();
            CompareList("per-model learning rates", savedRates, _hostLearningRates);
        }
        if (Task is not null && contents.Task is not null)
        {
            Compare("validation samples", o.ValidationSamples, _options.ValidationSamples);
            Compare("test samples", o.TestSamples, _options.TestSamples);
            if (o.Ops is not null || _options.Ops is not null)
            {
                var savedOps = (o.Ops ?? Enumerable.Repeat(contents.Task.Op, _model.Count)).ToArray();
                CompareList("ops", savedOps, _hostOps.Select(op => (ArithmeticOp)op).ToArray());
            }
        }
        else
        {
            Compare("sampling", o.Sampling, _options.Sampling);
            Compare("data seed", o.DataSeed?.ToString(CultureInfo.InvariantCulture) ?? "none", _options.DataSeed?.ToString(CultureInfo.InvariantCulture) ?? "none");
        }

        return list;
    }

    private static string Text<T>(T value) => value switch
    {
        float f => f.ToString(CultureInfo.InvariantCulture),
        ArithmeticOp op => op.ToString().ToLowerInvariant(),
        _ => value?.ToString() ?? "",
    };

    private static string Describe(TrainingState.DataRecord? d) =>
        d is null ? "none" : $"{d.Rows} rows × ({d.Inputs} → {d.Outputs}), fingerprint {d.Fingerprint}";
}
