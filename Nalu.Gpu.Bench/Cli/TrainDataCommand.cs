using System.Diagnostics;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.IO;
using Nalu.Gpu.Models;
using Nalu.Gpu.Training;

namespace Nalu.Gpu.Bench.Cli;

/// <summary><c>train --data FILE</c>: the same training loop as the arithmetic task, on the user's own rows.</summary>
internal static class TrainDataCommand
{
    public static int Run(TrainOptions o)
    {
        if (o.Steps < 1)
            throw new UsageException($"--steps {o.Steps} must be at least 1.");
        if (o.Baseline)
            throw new UsageException("--baseline works on the arithmetic task only; train the MLP on your data with a second run (--unit mlp).");
        if (o.Save is not null)
            TrainCommand.CheckWritable(o.Save, "--save");
        if (o.Json is not null && o.Json != "-")
            TrainCommand.CheckWritable(o.Json, "--json");
        try
        {
            SafeFile.EnsureDistinct([("--data", o.Data), ("--valid", o.Valid), ("--test", o.Test), ("--resume", o.Resume)], [("--json", o.Json)]);
            SafeFile.EnsureDistinct([("--data", o.Data), ("--valid", o.Valid), ("--test", o.Test)], [("--save", o.Save), ("--json", o.Json)]);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        var (trainX, trainY) = Read(o.Data!, o);
        var valid = o.Valid is null ? ((FloatMatrix, FloatMatrix)?)null : Read(o.Valid, o);
        var test = o.Test is null ? ((FloatMatrix, FloatMatrix)?)null : Read(o.Test, o);
        var architecture = o.BuildArchitecture(inputs: trainX.Columns, outputs: trainY.Columns);
        var options = o.BuildTrainerOptions(o.EvalEvery, Math.Max(1, o.EvalSamples));

        var resume = TrainCommand.ReadResume(o);
        using var device = NaluDevice.Create(o.DeviceKind, o.DeviceIndex);
        bool toStdout = o.Json == "-";
        var log = toStdout ? new StreamWriter(Console.OpenStandardError()) { AutoFlush = true } : Console.Out;
        log.WriteLine($"Device: {device}");
        log.WriteLine($"Data: {o.Data}: {trainX.Rows} rows, inputs {string.Join(",", trainX.ColumnNames)} → targets {string.Join(",", trainY.ColumnNames)}" +
            (o.Valid is null ? "" : $"; validation {o.Valid} ({valid!.Value.Item1.Rows} rows)") + (o.Test is null ? "" : $"; test {o.Test} ({test!.Value.Item1.Rows} rows)"));

        using var trainSet = Upload(device, trainX, trainY);
        using var validSet = valid is { } v ? Upload(device, v.Item1, v.Item2) : null;
        using var testSet = test is { } t ? Upload(device, t.Item1, t.Item2) : null;
        device.EnsureFits(4.0 * o.Models * (5.0 * architecture.ParameterCount + 1), $"--models {o.Models} of {architecture.ParameterCount} parameters");
        using var model = new Model(device, architecture, o.Seeds);
        using var trainer = new Trainer(model, trainSet, options, validSet, testSet);
        TrainCommand.Restore(trainer, resume, o, log);
        log.WriteLine($"Training {architecture.ShortName}, {o.Models} model(s), {o.Steps} steps, batch {o.Batch}, sampling {options.Sampling}, strategy {trainer.Strategy}");
        Action<TrainingProgress>? periodic = o.SaveEvery > 0 && o.Save is not null
            ? p =>
            {
                if (p.Step % o.SaveEvery == 0 && p.Step < p.TotalSteps)
                    TrainCommand.SaveRun(o.Save, trainer, model, null, TextWriter.Null);
            }
            : null;
        var clock = Stopwatch.StartNew();
        int first = trainer.Step;
        TrainCommand.Run(trainer, o.Steps - first, o.Quiet, log, periodic);
        clock.Stop();
        var final = trainer.History.Count > 0 && trainer.History[^1].Step == trainer.Step ? trainer.History[^1] : trainer.Evaluate();
        var models = Enumerable.Range(0, model.Count).Select(p => new ModelResult(
            model.Seeds[p], trainer.LastLosses[p], final.Validation[p], final.Test[p],
            trainer.Diverged[p] || !float.IsFinite(trainer.LastLosses[p]))).ToArray();
        var result = new RunResult(architecture.ShortName, architecture.ToString(), o.Unit, "data", trainX.Columns, o.Steps, o.Batch,
            options.Optimizer.Kind.ToString().ToLowerInvariant(), options.Optimizer.LearningRate, o.Valid ?? "", o.Test ?? "",
            device.ToString(), trainer.Strategy.ToString(), clock.Elapsed.TotalSeconds, (double)(o.Steps - first) * model.Count / clock.Elapsed.TotalSeconds, models);

        TrainCommand.PrintSummary([result], log, "Validation MSE", "Test MSE");
        if (o.Valid is null || o.Test is null)
            log.WriteLine("  (NaN: no --valid or --test file was given.)");
        if (o.Json is not null)
        {
            string json = System.Text.Json.JsonSerializer.Serialize(result, Output.Json);
            if (toStdout)
                Console.WriteLine(json);
            else
                Output.WriteAtomically(o.Json, json);
        }

        if (o.Save is not null)
            TrainCommand.SaveRun(o.Save, trainer, model, null, log);
        bool diverged = models.Any(m => m.Diverged);
        if (diverged)
            log.WriteLine("A model diverged (NaN or infinite loss): exit code 3.");
        return diverged ? 3 : 0;
    }

    /// <summary>The input and target columns of a CSV or .npy file (by name or 0-based index; default all but the last → the last).</summary>
    private static (FloatMatrix Inputs, FloatMatrix Targets) Read(string path, TrainOptions o)
    {
        FloatMatrix all;
        IReadOnlyList<CsvColumn>? inputs = o.InputColumns is null ? null : Columns(o.InputColumns, "--input-columns");
        IReadOnlyList<CsvColumn>? targets = o.TargetColumns is null ? null : Columns(o.TargetColumns, "--target-columns");
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
            all = NpyFile.Read(path);
        else if (inputs is not null && targets is not null)
        {
            var groups = CsvMatrix.ReadGroups(path, [inputs, targets]);
            return (groups[0], groups[1]);
        }
        else
            all = CsvMatrix.Read(path);

        if (all.Columns < 2 && (inputs is null || targets is null))
            throw new DataFileException($"{path}: {all.Columns} column(s); give at least one input and one target column.", path);
        int[] Indices(IReadOnlyList<CsvColumn>? selection, int[] fallback, string option) => selection is null ? fallback : selection.Select(c =>
        {
            int index = c.Name is { } name ? IndexOf(all, name, path, option) : c.Index;
            if (index < 0 || index >= all.Columns)
                throw new UsageException($"{option}: column {index} is outside the {all.Columns} columns of {path}.");
            return index;
        }).ToArray();
        int[] inputIndices = Indices(inputs, Enumerable.Range(0, all.Columns - 1).ToArray(), "--input-columns");
        int[] targetIndices = Indices(targets, [all.Columns - 1], "--target-columns");
        if (inputIndices.Intersect(targetIndices).Any())
            throw new UsageException("--input-columns and --target-columns share a column.");
        return (Select(all, inputIndices), Select(all, targetIndices));
    }

    private static IReadOnlyList<CsvColumn> Columns(string text, string option)
    {
        try
        {
            var list = CsvColumn.ParseList(text);
            return list.Count > 0 ? list : throw new UsageException($"{option} is empty.");
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{option} '{text}': {e.Message}");
        }
    }

    private static int IndexOf(FloatMatrix m, string name, string path, string option)
    {
        for (int c = 0; c < m.Columns; c++)
        {
            if (m.ColumnNames[c] == name)
                return c;
        }

        throw new UsageException($"{option}: {path} has no column '{name}' (it has {string.Join(", ", m.ColumnNames)}).");
    }

    private static FloatMatrix Select(FloatMatrix m, int[] columns)
    {
        var values = new float[m.Rows * columns.Length];
        for (int r = 0; r < m.Rows; r++)
        {
            for (int k = 0; k < columns.Length; k++)
                values[r * columns.Length + k] = m[r, columns[k]];
        }

        return new FloatMatrix(values, m.Rows, columns.Length, columns.Select(c => m.ColumnNames[c]).ToArray());
    }

    private static Dataset Upload(NaluDevice device, FloatMatrix inputs, FloatMatrix targets) =>
        new(device, inputs.Values, inputs.Columns, targets.Values, targets.Columns);
}
