using System.Text.Json;
using System.Text.Json.Serialization;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Training;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Data;

namespace Nalu.Gpu.Checkpoints;

/// <summary>
/// How a checkpoint stores a <see cref="TrainingState"/>: two tensors and one metadata entry, next to the model's.
/// <list type="bullet">
/// <item><c>training.optimizer_state</c>, F32 (P, N, 2): the optimizer's two slots per parameter.</item>
/// <item><c>training.best_parameters</c>, F32 (P, N): each model's parameters at its best evaluation (zeros for a model
/// with none yet).</item>
/// <item>metadata <c>training</c>: JSON <c>{"version": 1, "step", "strategy", "options": {...}, "lastLosses": [P],
/// "diverged": [P], "nonFinite": [model indices], "best": [P × ({"step", "interpolation", "extrapolation"} or null)],
/// "history": [{"step", "interpolation": [P], "extrapolation": [P]}], "data": null or [training, validation, test] ×
/// ({"rows", "inputs", "outputs", "fingerprint"} or null)}</c>. Doubles round-trip exactly; NaN is written
/// <c>"NaN"</c>.</item>
/// </list>
/// NaN and infinities are refused in every tensor except in the rows of the models listed in <c>nonFinite</c> (a model
/// that diverged is saved as it is, so that resuming it changes nothing).
/// </summary>
internal static class TrainingStateFormat
{
    public const string MetadataKey = "training", StateTensor = "training.optimizer_state", BestTensor = "training.best_parameters";
    private const int Version = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    internal sealed record OptimizerRecord(OptimizerKind Kind, float LearningRate, float Beta1, float Beta2, float Epsilon, float ClipValue, float ClipNorm);

    internal sealed record OptionsRecord(
        int Batch, OptimizerRecord Optimizer, int EvaluateEvery, int ValidationSamples, int TestSamples, TrainingStrategy Strategy,
        int ReportEvery, int StepsPerLaunch, ArithmeticOp[]? Ops, float[]? LearningRates, int EvaluationChunks, int? Threads,
        SamplingMode Sampling, int? DataSeed, int ReinitializeEvery);

    internal sealed record BestRecord(int Step, double Interpolation, double Extrapolation);

    internal sealed record EvaluationRecord(int Step, double[] Interpolation, double[] Extrapolation);

    internal sealed record StateRecord(
        int Version, int Step, TrainingStrategy Strategy, OptionsRecord Options, float[] LastLosses, bool[] Diverged, int[] NonFinite,
        BestRecord?[] Best, EvaluationRecord?[] History, TrainingState.DataRecord?[]? Data,
        Reinitialization[]? Reinitializations = null, float[][]? RecentLosses = null);

    /// <summary>The tensors and metadata entry of <paramref name="state"/> for <paramref name="models"/> models of <paramref name="n"/> parameters.</summary>
    public static (SafeTensor[] Tensors, string Json, bool HasNonFinite) Encode(TrainingState state, float[] parameters, int models, int n)
    {
        var o = state.Options;
        var best = new float[models * n];
        for (int m = 0; m < models; m++)
            state.Best[m]?.Parameters.CopyTo(best, m * n);
        var nonFinite = new List<int>();
        for (int m = 0; m < models; m++)
        {
            if (SafeTensorsFile.IndexOfNonFinite(parameters.AsSpan(m * n, n)) >= 0
                || SafeTensorsFile.IndexOfNonFinite(state.OptimizerState.AsSpan(2 * m * n, 2 * n)) >= 0
                || SafeTensorsFile.IndexOfNonFinite(best.AsSpan(m * n, n)) >= 0)
                nonFinite.Add(m);
        }

        var record = new StateRecord(Version, state.Step, o.Strategy,
            new OptionsRecord(o.Batch, new OptimizerRecord(o.Optimizer.Kind, o.Optimizer.LearningRate, o.Optimizer.Beta1, o.Optimizer.Beta2,
                    o.Optimizer.Epsilon, o.Optimizer.ClipValue, o.Optimizer.ClipNorm), o.EvaluateEvery, o.ValidationSamples, o.TestSamples,
                o.Strategy, o.ReportEvery, o.StepsPerLaunch, o.Ops?.ToArray(), o.LearningRates?.ToArray(), o.EvaluationChunks, o.Threads,
                o.Sampling, o.DataSeed, o.ReinitializeEvery),
            state.LastLosses, state.Diverged, nonFinite.ToArray(),
            state.Best.Select(b => b is null ? null : new BestRecord(b.Step, b.Interpolation, b.Extrapolation)).ToArray(),
            state.History.Select(e => new EvaluationRecord(e.Step, e.Interpolation, e.Extrapolation)).ToArray(),
            state.Data?.ToArray(), state.Reinitializations.ToArray(), state.RecentLosses.Select(l => l.ToArray()).ToArray());
        SafeTensor[] tensors =
        [
            new(StateTensor, [models, n, 2], state.OptimizerState),
            new(BestTensor, [models, n], best),
        ];
        return (tensors, JsonSerializer.Serialize(record, Json), nonFinite.Count > 0);
    }

    /// <summary>
    /// Parses and validates the metadata entry (not yet the tensors): every field present and of its type, every list of
    /// length P, steps in order and not past <paramref name="step"/>, options that a trainer accepts.
    /// </summary>
    /// <exception cref="CheckpointFormatException">One line naming the entry and the problem.</exception>
    public static (StateRecord Record, TrainerOptions Options) Parse(string path, string json, int models, int step)
    {
        StateRecord r;
        try
        {
            r = JsonSerializer.Deserialize<StateRecord>(json, Json)
                ?? throw Bad(path, "is null; it should be a training-state object");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException or InvalidOperationException)
        {
            string where = e is JsonException { Path: { Length: > 0 } p } ? $"at {p}" : "malformed JSON";
            throw Bad(path, $"is not a valid training-state object ({where})", e);
        }

        if (r.Version != Version)
            throw Bad(path, $"has version {r.Version}; this version reads {Version}");
        if (r.Step != step)
            throw Bad(path, $"is at step {r.Step} but the checkpoint at step {step}");
        if (r.Strategy == TrainingStrategy.Auto || !Enum.IsDefined(r.Strategy))
            throw Bad(path, $"names strategy '{r.Strategy}', not a resolved strategy");
        Length(path, "lastLosses", r.LastLosses.Length, models);
        Length(path, "diverged", r.Diverged.Length, models);
        Length(path, "best", r.Best.Length, models);
        if (r.NonFinite.Any(m => m < 0 || m >= models) || r.NonFinite.Distinct().Count() != r.NonFinite.Length)
            throw Bad(path, $"'nonFinite' must list distinct model indices in [0, {models})");
        for (int m = 0; m < models; m++)
        {
            if (r.Best[m] is { } b && (b.Step < 0 || b.Step > step || double.IsNaN(b.Interpolation)))
                throw Bad(path, $"best of model {m} is at step {b.Step} with validation MSE {b.Interpolation}; it must be a number at a step in [0, {step}]");
        }

        int previous = 0;
        for (int i = 0; i < r.History.Length; i++)
        {
            var e = r.History[i] ?? throw Bad(path, $"history entry {i} is null");
            if (e.Step < previous || e.Step > step)
                throw Bad(path, $"history entry {i} is at step {e.Step}, out of order or past step {step}");
            Length(path, $"history entry {i} interpolation", e.Interpolation.Length, models);
            Length(path, $"history entry {i} extrapolation", e.Extrapolation.Length, models);
            previous = e.Step;
        }

        if (r.Data is { } data)
        {
            Length(path, "data", data.Length, 3);
            foreach (var d in data)
            {
                if (d is not null && (d.Rows < 1 || d.Inputs < 1 || d.Outputs < 1 || string.IsNullOrEmpty(d.Fingerprint)))
                    throw Bad(path, "a 'data' entry needs rows, inputs and outputs ≥ 1 and a fingerprint");
            }

            if (data[0] is null)
                throw Bad(path, "'data' lacks the training set");
        }

        foreach (var re in r.Reinitializations ?? [])
        {
            if (re is null || re.Model < 0 || re.Model >= models || re.Step < 0 || re.Step > step)
                throw Bad(path, $"a re-initialisation names model {re?.Model} at step {re?.Step}; it needs a model in [0, {models}) and a step in [0, {step}]");
        }

        var recent = r.RecentLosses ?? [];
        if (recent.Length > TrainerOptions.ReinitializeSamples)
            throw Bad(path, $"'recentLosses' has {recent.Length} samples, more than a window's {TrainerOptions.ReinitializeSamples}");
        for (int i = 0; i < recent.Length; i++)
        {
            if (recent[i] is null)
                throw Bad(path, $"'recentLosses' entry {i} is null");
            Length(path, $"'recentLosses' entry {i}", recent[i].Length, models);
        }

        var o = r.Options;
        TrainerOptions options;
        try
        {
            if (o.Ops is { } ops && ops.Any(op => !Enum.IsDefined(op)))
                throw new ArgumentException("an op is not defined");
            options = new TrainerOptions
            {
                Batch = o.Batch,
                Optimizer = new OptimizerOptions(o.Optimizer.Kind, o.Optimizer.LearningRate, o.Optimizer.Beta1, o.Optimizer.Beta2,
                    o.Optimizer.Epsilon, o.Optimizer.ClipValue, o.Optimizer.ClipNorm),
                EvaluateEvery = o.EvaluateEvery,
                ValidationSamples = o.ValidationSamples,
                TestSamples = o.TestSamples,
                Strategy = r.Strategy,
                ReportEvery = o.ReportEvery,
                StepsPerLaunch = o.StepsPerLaunch,
                Ops = o.Ops,
                LearningRates = o.LearningRates,
                EvaluationChunks = o.EvaluationChunks,
                Threads = o.Threads,
                Sampling = o.Sampling,
                DataSeed = o.DataSeed,
                ReinitializeEvery = o.ReinitializeEvery,
            };
            options.Validate(models);
        }
        catch (ArgumentException e)
        {
            throw Bad(path, $"options are invalid: {e.Message.Split('\n')[0].Split(" (Parameter")[0].Trim()}", e);
        }

        return (r, options);
    }

    /// <summary>
    /// The state from the parsed record and the two tensors (taken out of <paramref name="byName"/>), shapes checked.
    /// </summary>
    public static TrainingState Decode(string path, StateRecord r, TrainerOptions options, Dictionary<string, SafeTensor> byName, int models, int n)
    {
        var state = Take(path, byName, StateTensor, [models, n, 2]);
        var bestValues = Take(path, byName, BestTensor, [models, n]);
        var allowed = r.NonFinite.ToHashSet();
        CheckFinite(path, StateTensor, state, 2 * n, allowed);
        CheckFinite(path, BestTensor, bestValues, n, allowed);
        return new TrainingState
        {
            Step = r.Step,
            Options = options,
            OptimizerState = state,
            LastLosses = r.LastLosses,
            Diverged = r.Diverged,
            Best = r.Best.Select((b, m) => b is null ? null
                : new BestEvaluation(b.Step, b.Interpolation, b.Extrapolation, bestValues.AsSpan(m * n, n).ToArray())).ToArray(),
            History = r.History.Select(e => new Evaluation(e!.Step, e.Interpolation, e.Extrapolation)).ToArray(),
            Data = r.Data,
            Reinitializations = r.Reinitializations ?? [],
            RecentLosses = r.RecentLosses ?? [],
        };
    }

    /// <summary>
    /// Refuses a NaN or infinity in <paramref name="values"/> (rows of <paramref name="perModel"/> values) outside the
    /// models in <paramref name="allowed"/>, with the message a plain checkpoint gives.
    /// </summary>
    public static void CheckFinite(string path, string name, float[] values, int perModel, IReadOnlySet<int> allowed)
    {
        int bad = SafeTensorsFile.IndexOfNonFinite(values);
        while (bad >= 0)
        {
            if (perModel == 0 || !allowed.Contains(bad / perModel))
                throw SafeTensorsFile.Format(path, $"tensor '{name}' has non-finite value {values[bad]} at flat index {bad}");
            int next = SafeTensorsFile.IndexOfNonFinite(values.AsSpan(bad + 1));
            bad = next < 0 ? -1 : bad + 1 + next;
        }
    }

    private static float[] Take(string path, Dictionary<string, SafeTensor> byName, string key, int[] shape)
    {
        if (!byName.Remove(key, out var tensor))
            throw new CheckpointFormatException($"'{path}': tensor '{key}' is missing; metadata 'training' needs it.");
        if (!tensor.Shape.SequenceEqual(shape))
        {
            throw new CheckpointFormatException(
                $"'{path}': tensor '{key}' has shape [{string.Join(", ", tensor.Shape)}], expected [{string.Join(", ", shape)}].");
        }

        return tensor.Data;
    }

    private static void Length(string path, string what, int length, int expected)
    {
        if (length != expected)
            throw Bad(path, $"'{what}' has {length} entries, expected {expected}");
    }

    private static CheckpointFormatException Bad(string path, string problem, Exception? inner = null) =>
        new($"'{path}': metadata 'training' {problem}.", inner);
}
