using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Checkpoints;

/// <summary>
/// Saves and loads models as safetensors files that Python can read with <c>safetensors.torch.load_file</c>.
/// </summary>
/// <remarks>
/// Tensor names are <c>layers.{l}.{name}</c>, with the names of <see cref="LayerSpec.Tensors"/>
/// (<c>W_hat</c>, <c>M_hat</c>, <c>G</c>; NAU and NMU <c>W</c>; untied NALU <c>W_hat_add</c>, <c>M_hat_add</c>, <c>W_hat_mul</c>,
/// <c>M_hat_mul</c>, <c>G</c>; dense <c>weight</c>, <c>bias</c>). Matrices are (O, I) as in <c>torch.nn.Linear</c>;
/// a custom layer (<see cref="CustomUnit"/>) uses its unit's tensor names and stores the unit's name in its layer record
/// (<c>"kind": "custom", "custom": NAME</c>); loading it needs the unit registered (<see cref="CustomUnits"/>) or a resolver.
/// A population of P models adds a leading dimension P. Metadata (all strings): <c>format</c> =
/// <c>nalu-gpu/1</c>, <c>architecture</c> (JSON list of layers), <c>seeds</c> (JSON list), and optionally
/// <c>task</c> (JSON) and <c>step</c>. A checkpoint written by <see cref="Trainer.SaveCheckpoint"/> also holds the
/// training state (the <c>training</c> metadata entry and the <c>training.*</c> tensors, documented in
/// <see cref="Contents.Training"/>); older checkpoints, without it, read as before.
/// </remarks>
public static class Checkpoint
{
    /// <summary>The format tag written to and required in the metadata.</summary>
    public const string Format = "nalu-gpu/1";

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>Layer description as stored in the metadata.</summary>
    public sealed record LayerRecord(
        UnitKind Kind, int Inputs, int Outputs, bool Untied, Activation Activation,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RegularizerRecord? Regularizer = null,
        bool InputIndependentGate = false,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Custom = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] INaluRecipeRecord? INaluRecipe = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Steps = 0,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int EachStep = 0,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool ReadEveryStep = false)
    {
        /// <summary>The record of a layer (its regulariser and iNALU recipe only when it has one; a custom layer's unit by name).</summary>
        public static LayerRecord Of(LayerSpec l) => new(l.Kind, l.Inputs, l.Outputs, l.Untied, l.Activation,
            l.Regularizer.Kind == RegularizerKind.None ? null : RegularizerRecord.Of(l.Regularizer), l.InputIndependentGate,
            l.CustomUnit?.Name, l.INaluRecipe.IsNone ? null : INaluRecipeRecord.Of(l.INaluRecipe), l.Steps, l.EachStep, l.ReadEveryStep);

        /// <summary>The layer, with a custom unit looked up in <see cref="CustomUnits"/>.</summary>
        public LayerSpec ToSpec() => ToSpec(CustomUnits.Find);

        /// <summary>
        /// The layer, with a custom unit found by <paramref name="resolve"/> (null: unknown).
        /// </summary>
        /// <exception cref="CheckpointFormatException">A custom layer whose unit is not known, or that names none.</exception>
        public LayerSpec ToSpec(Func<string, CustomUnit?> resolve)
        {
            ArgumentNullException.ThrowIfNull(resolve);
            if (Kind != UnitKind.Custom)
            {
                return Custom is null
                    ? ToBuiltInSpec()
                    : throw new CheckpointFormatException($"a {Kind} layer names the custom unit '{Custom}'.");
            }

            if (string.IsNullOrEmpty(Custom))
                throw new CheckpointFormatException("a custom layer does not name its unit.");
            var unit = resolve(Custom)
                ?? throw new CheckpointFormatException(
                    $"custom unit '{Custom}' is not known here: register it with CustomUnits.Register(\"{Custom}\", …) or pass a resolver to Checkpoint.Read.");
            return LayerSpec.Custom(unit, Inputs, Outputs) with { Regularizer = Regularizer?.ToSettings() ?? RegularizerSettings.None, Steps = Steps, EachStep = EachStep, ReadEveryStep = ReadEveryStep };
        }

        /// <summary>
        /// The layer; a missing regulariser (every checkpoint written before regularisers existed) is none, and a missing
        /// InputIndependentGate (written before that option existed) is false.
        /// </summary>
        private LayerSpec ToBuiltInSpec() => new(Kind, Inputs, Outputs, Untied, Activation)
        {
            Regularizer = Regularizer?.ToSettings() ?? RegularizerSettings.None,
            InputIndependentGate = InputIndependentGate,
            INaluRecipe = INaluRecipe?.ToRecipe() ?? default,
            Steps = Steps,   // 0 (feed-forward) in every checkpoint written before recurrent layers existed
            EachStep = EachStep,   // 0 likewise, before per-step layers existed
            ReadEveryStep = ReadEveryStep,
        };
    }

    /// <summary>An iNALU layer's training recipe as stored in the metadata (the fields of <see cref="INaluRecipe"/>).</summary>
    public sealed record INaluRecipeRecord(bool Alternate, float Saturation, int SaturationStart, float SaturationLossBelow)
    {
        /// <summary>The record of <paramref name="r"/>.</summary>
        public static INaluRecipeRecord Of(INaluRecipe r) => new(r.Alternate != 0, r.Saturation, r.SaturationStart, r.SaturationLossBelow);

        /// <summary>Back to the recipe (validated with the layer).</summary>
        public INaluRecipe ToRecipe() => new()
        {
            Alternate = Alternate ? 1 : 0, Saturation = Saturation, SaturationStart = SaturationStart, SaturationLossBelow = SaturationLossBelow,
        };
    }
    /// <summary>A layer's regulariser as stored in the metadata (the fields of <see cref="RegularizerSettings"/>).</summary>
    public sealed record RegularizerRecord(RegularizerKind Kind, float Strength, float StrengthEnd, int Start, int End, int Every)
    {
        /// <summary>The record of <paramref name="r"/>.</summary>
        public static RegularizerRecord Of(RegularizerSettings r) => new(r.Kind, r.Strength, r.StrengthEnd, r.Start, r.End, r.Every);

        /// <summary>Back to settings (validated with the layer).</summary>
        public RegularizerSettings ToSettings() => new()
        {
            Kind = Kind, Strength = Strength, StrengthEnd = StrengthEnd, Start = Start, End = End, Every = Every,
        };
    }

    /// <summary>Task description as stored in the metadata.</summary>
    public sealed record TaskRecord(ArithmeticOp Op, int Inputs, string Interpolation, string Extrapolation, int SubsetSize, int SubsetGap,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Steps = 0);

    /// <summary>What a checkpoint holds besides the weights.</summary>
    public sealed record Contents(ModelArchitecture Architecture, int[] Seeds, float[] Parameters, ArithmeticTask? Task, int Step)
    {
        /// <summary>
        /// The training state, when the checkpoint was written by <see cref="Trainer.SaveCheckpoint"/> (null for
        /// <see cref="Save"/> and older files). Stored as the tensors <c>training.optimizer_state</c> (P, N, 2) and
        /// <c>training.best_parameters</c> (P, N) and the JSON metadata entry <c>training</c> (step, resolved options,
        /// last losses, divergence flags, best evaluations, evaluation history, stored-data fingerprints). Only the rows of
        /// models listed as non-finite there may hold NaN or infinities.
        /// </summary>
        public TrainingState? Training { get; init; }
    }

    /// <summary>Writes all models atomically (temporary file, then rename).</summary>
    /// <exception cref="ArgumentException">A model's parameters are NaN or infinite (it diverged): nothing is written.
    /// Use <see cref="SaveFinite"/> to save the others.</exception>
    public static void Save(string path, Model model, ArithmeticTask? task = null, int step = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var parameters = model.GetParameters();
        DataChecks.EnsureFinite(parameters, "model parameters (a model diverged; nothing was saved)");
        Write(path, model.Architecture, model.Seeds, parameters, task, step);
    }

    /// <summary>
    /// Writes the models whose parameters are all finite, leaving out the ones that diverged (NaN or infinite
    /// parameters), and returns the seeds of those left out. Writes nothing, and says so by returning every seed,
    /// when all of them diverged.
    /// </summary>
    public static IReadOnlyList<int> SaveFinite(string path, Model model, ArithmeticTask? task = null, int step = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var parameters = model.GetParameters();
        int n = model.ParameterCount;
        var kept = new List<int>();
        var left = new List<int>();
        for (int m = 0; m < model.Count; m++)
        {
            bool finite = true;
            foreach (float v in parameters.AsSpan(m * n, n))
                finite &= float.IsFinite(v);
            (finite ? kept : left).Add(m);
        }

        if (kept.Count == 0)
            return model.Seeds.ToArray();
        var values = new float[kept.Count * n];
        for (int k = 0; k < kept.Count; k++)
            Array.Copy(parameters, kept[k] * n, values, k * n, n);
        Write(path, model.Architecture, kept.Select(m => model.Seeds[m]).ToArray(), values, task, step);
        return left.Select(m => model.Seeds[m]).ToArray();
    }

    /// <summary>Writes a checkpoint with <paramref name="training"/> state (all models, diverged ones as they are).</summary>
    internal static void Write(string path, Model model, ArithmeticTask? task, float[] parameters, TrainingState training)
    {
        var (tensors, json, nonFinite) = TrainingStateFormat.Encode(training, parameters, model.Count, model.ParameterCount);
        Write(path, model.Architecture, model.Seeds, parameters, task, training.Step, tensors, json, nonFinite);
    }

    /// <summary>The architecture as its metadata JSON: two architectures are the same model when these are equal.</summary>
    internal static string Describe(ModelArchitecture arch) => JsonSerializer.Serialize(arch.Layers.Select(LayerRecord.Of), Json);

    private static void Write(string path, ModelArchitecture arch, IReadOnlyList<int> seeds, float[] parameters, ArithmeticTask? task, int step,
        IReadOnlyList<SafeTensor>? extraTensors = null, string? training = null, bool allowNonFinite = false)
    {
        int p = seeds.Count, n = arch.ParameterCount;
        var tensors = new List<SafeTensor>();
        for (int l = 0; l < arch.Layers.Count; l++)
        {
            int offset = arch.LayerOffset(l);
            foreach (var (name, shape) in arch.Layers[l].Tensors)
            {
                int size = shape.Aggregate(1, (a, b) => a * b);
                var data = new float[p * size];
                for (int m = 0; m < p; m++)
                    Array.Copy(parameters, m * n + offset, data, m * size, size);
                tensors.Add(new SafeTensor($"layers.{l}.{name}", p == 1 ? shape : [p, .. shape], data));
                offset += size;
            }
        }

        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["architecture"] = JsonSerializer.Serialize(arch.Layers.Select(LayerRecord.Of), Json),
            ["seeds"] = JsonSerializer.Serialize(seeds),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
        };
        if (task is not null)
            metadata["task"] = DescribeTask(task);
        if (training is not null)
            metadata[TrainingStateFormat.MetadataKey] = training;
        tensors.AddRange(extraTensors ?? []);
        SafeTensorsFile.WriteCore(path, tensors, metadata, allowNonFinite);
    }

    /// <summary>The task as its metadata JSON: two tasks are the same when these are equal.</summary>
    internal static string DescribeTask(ArithmeticTask task) => JsonSerializer.Serialize(new TaskRecord(task.Op, task.Inputs,
        task.Interpolation.ToString(), task.Extrapolation.ToString(), task.SubsetSize, task.SubsetGap, task.IsSequence ? task.Steps : 0), Json);

    /// <summary>Reads and validates a checkpoint.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="CheckpointFormatException">Truncated, corrupt, or not a Nalu.Gpu checkpoint; the message says which.</exception>
    public static Contents Read(string path) => Read(path, CustomUnits.Find);

    /// <summary>
    /// Reads and validates a checkpoint; custom layers' units are found by <paramref name="resolve"/> (name → unit, or
    /// null when unknown) instead of <see cref="CustomUnits"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="CheckpointFormatException">Truncated, corrupt, not a Nalu.Gpu checkpoint, or a custom unit that
    /// <paramref name="resolve"/> does not know (the message names it).</exception>
    public static Contents Read(string path, Func<string, CustomUnit?> resolve)
    {
        ArgumentNullException.ThrowIfNull(resolve);
        // Non-finite values are allowed only in the rows of models that a training state lists as diverged; a checkpoint
        // without one refuses them at once, as it always did.
        var (tensors, metadata) = SafeTensorsFile.ReadCore(path, allowNonFinite: true);
        string? trainingJson = metadata.GetValueOrDefault(TrainingStateFormat.MetadataKey);
        if (trainingJson is null)
        {
            foreach (var tensor in tensors)
                TrainingStateFormat.CheckFinite(path, tensor.Name, tensor.Data, 0, new HashSet<int>());
        }

        string Need(string key) => metadata.TryGetValue(key, out var v)
            ? v
            : throw new CheckpointFormatException($"'{path}' is a safetensors file but not a Nalu.Gpu checkpoint: metadata '{key}' is missing.");
        if (Need("format") != Format)
            throw new CheckpointFormatException($"'{path}' has format '{metadata["format"]}'; this version reads '{Format}'.");

        ModelArchitecture arch;
        int[] seeds;
        ArithmeticTask? task = null;
        var layers = Metadata<LayerRecord?[]>(path, "architecture", Need("architecture"), "a list of layers");
        if (layers.Length == 0)
            throw new CheckpointFormatException($"'{path}': metadata 'architecture' lists no layers.");
        for (int l = 0; l < layers.Length; l++)
        {
            if (layers[l] is null)
                throw new CheckpointFormatException($"'{path}': metadata 'architecture': layer {l} is null.");
        }

        var seedValues = Metadata<int?[]>(path, "seeds", Need("seeds"), "a list of integer seeds");
        if (seedValues.Length == 0)
            throw new CheckpointFormatException($"'{path}': the seed list is empty.");
        if (seedValues.Any(v => v is null))
            throw new CheckpointFormatException($"'{path}': metadata 'seeds' holds a null.");
        seeds = seedValues.Select(v => v!.Value).ToArray();
        TaskRecord? t = metadata.TryGetValue("task", out var taskJson) ? Metadata<TaskRecord?>(path, "task", taskJson, "a task object") : null;
        try
        {
            var specs = new LayerSpec[layers.Length];
            for (int l = 0; l < layers.Length; l++)
            {
                try
                {
                    specs[l] = layers[l]!.ToSpec(resolve);
                }
                catch (CheckpointFormatException e)
                {
                    throw new CheckpointFormatException($"'{path}': layer {l}: {e.Message}", e);
                }
            }

            arch = new ModelArchitecture(specs);
            if (t is not null)
            {
                if (t.Interpolation is null || t.Extrapolation is null)
                    throw new CheckpointFormatException($"'{path}': metadata 'task' lacks its interpolation or extrapolation range.");
                task = new ArithmeticTask(t.Op, t.Inputs, SampleInterval.Parse(t.Interpolation), SampleInterval.Parse(t.Extrapolation), t.SubsetSize, t.SubsetGap)
                {
                    Steps = Math.Max(1, t.Steps),   // absent (0) in every static task's record
                };
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
        {
            throw new CheckpointFormatException($"'{path}': invalid metadata: {FirstLine(e.Message)}", e);
        }

        if (task is not null && task.SampleInputs != arch.Inputs)
            throw new CheckpointFormatException($"'{path}': the task has {task.SampleInputs} inputs per sample but the model takes {arch.Inputs}.");

        int step = 0;
        if (metadata.TryGetValue("step", out var stepText)
            && !(int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step) && step >= 0))
            throw new CheckpointFormatException($"'{path}': metadata 'step' is '{stepText}', not a whole number ≥ 0.");
        int p = seeds.Length, n = arch.ParameterCount;
        (TrainingStateFormat.StateRecord Record, TrainerOptions Options)? training =
            trainingJson is null ? null : TrainingStateFormat.Parse(path, trainingJson, p, step);
        var allowed = training?.Record.NonFinite.ToHashSet() ?? [];
        if (training?.Record.Data is { } data && (data[0]!.Inputs != arch.Inputs || data[0]!.Outputs != arch.Outputs))
            throw new CheckpointFormatException($"'{path}': metadata 'training': the training set's width does not match the model's.");
        var parameters = new float[p * n];
        var byName = tensors.ToDictionary(t => t.Name);
        for (int l = 0; l < arch.Layers.Count; l++)
        {
            int offset = arch.LayerOffset(l);
            foreach (var (name, shape) in arch.Layers[l].Tensors)
            {
                string key = $"layers.{l}.{name}";
                if (!byName.Remove(key, out var tensor))
                    throw new CheckpointFormatException($"'{path}': tensor '{key}' is missing for layer {arch.Layers[l]}.");
                int[] expected = p == 1 ? shape : [p, .. shape];
                if (!tensor.Shape.SequenceEqual(expected))
                {
                    throw new CheckpointFormatException(
                        $"'{path}': tensor '{key}' has shape [{string.Join(", ", tensor.Shape)}], expected [{string.Join(", ", expected)}].");
                }

                int size = shape.Aggregate(1, (a, b) => a * b);
                TrainingStateFormat.CheckFinite(path, key, tensor.Data, size, allowed);
                for (int m = 0; m < p; m++)
                    Array.Copy(tensor.Data, m * size, parameters, m * n + offset, size);
                offset += size;
            }
        }

        var state = training is { } t2 ? TrainingStateFormat.Decode(path, t2.Record, t2.Options, byName, p, n) : null;
        if (byName.Count > 0)
            throw new CheckpointFormatException($"'{path}': unexpected tensors {string.Join(", ", byName.Keys)}.");
        if (state is not null && (task is null) != (state.Data is not null))
            throw new CheckpointFormatException($"'{path}': metadata 'training' must name stored data sets exactly when there is no task.");
        if (state?.Options.Ops is not null && task is null)
            throw new CheckpointFormatException($"'{path}': metadata 'training' lists ops but there is no arithmetic task.");
        return new Contents(arch, seeds, parameters, task, step) { Training = state };
    }

    /// <summary>
    /// One metadata entry as JSON of type <typeparamref name="T"/>; a null, a wrong type or bad JSON is one line that names the
    /// entry and what it should be, not the deserializer's type names.
    /// </summary>
    private static T Metadata<T>(string path, string key, string json, string expected)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json)
                ?? throw new CheckpointFormatException($"'{path}': metadata '{key}' is null; it should be {expected}.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException)
        {
            throw new CheckpointFormatException($"'{path}': metadata '{key}' is not {expected} ({Where(e)}).", e);
        }
    }

    private static string Where(Exception e) =>
        e is JsonException { Path: { Length: > 0 } jsonPath } ? $"at {jsonPath}" : "malformed JSON";

    private static string FirstLine(string message) => message.Split('\n')[0].Split(" (Parameter")[0].Trim();

    /// <summary>Reads a checkpoint and creates its models on <paramref name="device"/>.</summary>
    public static Model Load(string path, NaluDevice device, out Contents contents) =>
        Load(path, device, CustomUnits.Find, out contents);

    /// <summary>Reads a checkpoint, resolving custom units with <paramref name="resolve"/>, and creates its models on <paramref name="device"/>.</summary>
    public static Model Load(string path, NaluDevice device, Func<string, CustomUnit?> resolve, out Contents contents)
    {
        contents = Read(path, resolve);
        var model = new Model(device, contents.Architecture, contents.Seeds);
        try
        {
            // Read let NaN through only for the models a training state lists as diverged: restore them as they were.
            if (contents.Training is not null)
                model.SetParametersAllowingNonFinite(contents.Parameters);
            else
                model.SetParameters(contents.Parameters);
        }
        catch
        {
            model.Dispose();
            throw;
        }

        return model;
    }
}
