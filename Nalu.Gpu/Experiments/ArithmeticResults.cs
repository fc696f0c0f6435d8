using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nalu.Gpu.Experiments;

/// <summary>
/// One finished model of the arithmetic benchmark: one line of <c>results.jsonl</c>. The key is (unit, op,
/// interpolation, extrapolation, seed); the settings say what was run; the rest is the result at the model's
/// best-validation step.
/// </summary>
public sealed record ModelRecord
{
    /// <summary>Unit, e.g. <c>nac</c>, <c>mlp-relu6</c>.</summary>
    public required string Unit { get; init; }
    /// <summary>Op: add, sub, mul, div, square, sqrt.</summary>
    public required string Op { get; init; }
    /// <summary>Training range, e.g. <c>1:2</c>.</summary>
    public required string Interpolation { get; init; }
    /// <summary>Test range, e.g. <c>2:6</c>.</summary>
    public required string Extrapolation { get; init; }
    /// <summary>Model seed (initialisation, subsets, data).</summary>
    public required int Seed { get; init; }

    /// <summary>
    /// The regulariser and its schedule of a preset unit (e.g. <c>sparsity-linear λ̂=10, steps 1000→2000</c>); absent for
    /// units without one, so older results files read unchanged.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Regularizer { get; init; }

    /// <summary>Input width.</summary>
    public required int Inputs { get; init; }
    /// <summary>Hidden width.</summary>
    public required int Hidden { get; init; }
    /// <summary>Size of the subsets summed into a and b.</summary>
    public required int SubsetSize { get; init; }
    /// <summary>Start of subset B minus start of subset A.</summary>
    public required int SubsetGap { get; init; }
    /// <summary>Adam steps trained.</summary>
    public required int Steps { get; init; }
    /// <summary>Samples per step.</summary>
    public required int Batch { get; init; }
    /// <summary>Adam learning rate.</summary>
    [JsonPropertyName("lr")]
    public required float LearningRate { get; init; }
    /// <summary>Steps between evaluations.</summary>
    public required int EvalEvery { get; init; }
    /// <summary>Validation and test set size.</summary>
    public required int EvalSamples { get; init; }
    /// <summary>ε of the perturbed solution that defines the threshold.</summary>
    public required double Epsilon { get; init; }
    /// <summary>Monte Carlo samples of the threshold.</summary>
    public required int ThresholdSamples { get; init; }

    /// <summary>The evaluation step with the lowest validation MSE (null when every evaluation was NaN).</summary>
    public int? BestStep { get; init; }
    /// <summary>Validation (interpolation) MSE at the best step.</summary>
    public double InterpolationMse { get; init; }
    /// <summary>Test (extrapolation) MSE at the best step.</summary>
    public double ExtrapolationMse { get; init; }
    /// <summary>The test MSE of the ε-perturbed exact solution.</summary>
    public double Threshold { get; init; }
    /// <summary>Extrapolation MSE at the best step &lt; threshold.</summary>
    public bool Success { get; init; }
    /// <summary>The first evaluation step whose test MSE was below the threshold (null: never).</summary>
    public int? FirstSuccessStep { get; init; }
    /// <summary>max over weights of min(|W|, |1 − |W||) at the best step.</summary>
    public double SparsityError { get; init; }
    /// <summary>This seed's test MSE before training (step 0).</summary>
    public double UntrainedMse { get; init; }
    /// <summary>The mean test MSE of the random reference models of this unit, op and range pair.</summary>
    public double RandomMse { get; init; }
    /// <summary>100 × <see cref="ExtrapolationMse"/> / <see cref="RandomMse"/>: 0 is perfect, 100 no better than random.</summary>
    public double RelativeError { get; init; }
    /// <summary>The training loss became NaN/Inf at some step (the best step is still the best finite one).</summary>
    public bool Diverged { get; init; }
    /// <summary>Times this model was re-initialised as stuck (iNALU's recipe; 0 for every other unit).</summary>
    public int Reinitializations { get; init; }

    /// <summary>Models in the population this model trained in (not part of the result).</summary>
    /// <summary>Recurrent task: the training sequences' length (absent for the static task).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Sequence { get; init; }

    /// <summary>Recurrent task: the test sequences' length (absent for the static task).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TestSequence { get; init; }

    public int Population { get; init; }
    /// <summary>Wall time of that whole population, seconds (not part of the result).</summary>
    public double WallSeconds { get; init; }
    /// <summary>Device (not part of the result).</summary>
    public string Device { get; init; } = "";

    /// <summary>The identity of this result.</summary>
    [JsonIgnore]
    public ResultKey Key => new(Unit, Op, Interpolation, Extrapolation, Seed);

    /// <summary>The (unit, op, range pair) row this model belongs to.</summary>
    [JsonIgnore]
    public (string Unit, string Op, string Interpolation, string Extrapolation) Group => (Unit, Op, Interpolation, Extrapolation);

    /// <summary>The settings as (name, value) pairs, to compare runs.</summary>
    internal IEnumerable<(string Name, string Value)> Settings()
    {
        var inv = CultureInfo.InvariantCulture;
        yield return ("inputs", Inputs.ToString(inv));
        yield return ("hidden", Hidden.ToString(inv));
        yield return ("subset", SubsetSize.ToString(inv));
        yield return ("gap", SubsetGap.ToString(inv));
        yield return ("steps", Steps.ToString(inv));
        yield return ("batch", Batch.ToString(inv));
        yield return ("lr", LearningRate.ToString("R", inv));
        yield return ("eval-every", EvalEvery.ToString(inv));
        yield return ("eval-samples", EvalSamples.ToString(inv));
        yield return ("epsilon", Epsilon.ToString("R", inv));
        yield return ("threshold-samples", ThresholdSamples.ToString(inv));
        yield return ("regularizer", Regularizer ?? "none");
        yield return ("sequence", Sequence?.ToString(inv) ?? "1");
        yield return ("test-sequence", TestSequence?.ToString(inv) ?? "1");
    }

    /// <summary>The first setting in which two records differ, or null.</summary>
    internal (string Name, string Mine, string Theirs)? SettingsDifference(ModelRecord other) =>
        Settings().Zip(other.Settings()).Where(p => p.First.Value != p.Second.Value)
            .Select(p => ((string, string, string)?)(p.First.Name, p.First.Value, p.Second.Value)).FirstOrDefault();

    /// <summary>
    /// The first result field in which two records of the same key differ, or null. Integers and flags must be equal;
    /// MSEs and errors may differ by a relative 1e-6 (the last bits of float32 math on different hardware).
    /// Population, wall time and device are not results.
    /// </summary>
    internal string? ResultDifference(ModelRecord o)
    {
        if (SettingsDifference(o) is { } s)
            return $"setting {s.Name} ({s.Mine} vs {s.Theirs})";
        if (BestStep != o.BestStep)
            return $"bestStep ({BestStep} vs {o.BestStep})";
        if (Success != o.Success)
            return $"success ({Success} vs {o.Success})";
        if (FirstSuccessStep != o.FirstSuccessStep)
            return $"firstSuccessStep ({FirstSuccessStep} vs {o.FirstSuccessStep})";
        if (Diverged != o.Diverged)
            return $"diverged ({Diverged} vs {o.Diverged})";
        foreach (var (name, a, b) in new[]
        {
            ("interpolationMse", InterpolationMse, o.InterpolationMse), ("extrapolationMse", ExtrapolationMse, o.ExtrapolationMse),
            ("threshold", Threshold, o.Threshold), ("sparsityError", SparsityError, o.SparsityError),
            ("untrainedMse", UntrainedMse, o.UntrainedMse), ("randomMse", RandomMse, o.RandomMse), ("relativeError", RelativeError, o.RelativeError),
        })
        {
            if (!Close(a, b))
                return $"{name} ({a:R} vs {b:R})";
        }

        return null;
    }

    private static bool Close(double a, double b) =>
        a.Equals(b) || Math.Abs(a - b) <= 1e-6 * Math.Max(Math.Abs(a), Math.Abs(b));
}

/// <summary>Reads, repairs, appends and combines <c>results.jsonl</c> files.</summary>
public static class ResultsFile
{
    /// <summary>One JSON object per line, camelCase, NaN written as the string "NaN".</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = false,
    };

    /// <summary>The line of a record (without the newline).</summary>
    public static string ToLine(ModelRecord record) => JsonSerializer.Serialize(record, Json);

    /// <summary>
    /// Appends one record as a line and forces it to disk (fsync) before returning, so a record that was reported
    /// is never lost. A kill during the write leaves at most one incomplete last line, which <see cref="Load"/> removes.
    /// </summary>
    public static void Append(string path, ModelRecord record) => Append(path, [record]);

    /// <summary>
    /// Appends several records (one line each) with one write and one fsync: the models of a population are known
    /// at the same moment, and one fsync per model costs more than the evaluation on a slow disk.
    /// </summary>
    public static void Append(string path, IReadOnlyList<ModelRecord> records)
    {
        if (records.Count == 0)
            return;
        byte[] bytes = Encoding.UTF8.GetBytes(string.Concat(records.Select(r => ToLine(r) + "\n")));
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Reads a results file. An incomplete or unreadable LAST line (a run killed while writing it) is reported in
    /// <c>Repaired</c>; with <paramref name="repair"/> it is also cut from the file, so its model is trained again.
    /// A bad line anywhere else is an error that names the file and line: the file was damaged, not interrupted.
    /// </summary>
    /// <exception cref="InvalidDataException">A bad line before the last one.</exception>
    public static (List<ModelRecord> Records, string? Repaired) Load(string path, bool repair)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var records = new List<ModelRecord>();
        int start = 0, line = 0;
        while (start < bytes.Length)
        {
            line++;
            int newline = Array.IndexOf(bytes, (byte)'\n', start);
            bool complete = newline >= 0;
            int end = complete ? newline : bytes.Length;
            string text;
            string? problem = null;
            ModelRecord? record = null;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, start, end - start).Trim();
                if (text.Length > 0)
                    record = Parse(text);
            }
            catch (Exception e) when (e is JsonException or DecoderFallbackException or InvalidDataException or NotSupportedException)
            {
                problem = e.Message;
            }

            if (!complete && problem is null)
                problem = "the line has no newline at its end";
            if (problem is not null)
            {
                // Records are appended whole, newline last, in one write: only a last line WITHOUT its newline can be
                // a torn write. A complete line that is not a valid record is damage, even at the end of the file.
                if (complete)
                    throw new InvalidDataException($"{path}, line {line}: not a valid result record ({problem}). The file is damaged; fix or remove that line.");
                string message = $"{path}: the last line ({end - start} bytes) was incomplete or unreadable ({problem}), " +
                    "probably from a run that was killed while writing it; " +
                    (repair ? "removed it, and its model will be trained again." : "left it out.");
                if (repair)
                {
                    using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
                    stream.SetLength(start);
                    stream.Flush(flushToDisk: true);
                }

                return (records, message);
            }

            if (record is not null)
                records.Add(record);
            start = end + 1;
        }

        return (records, null);
    }

    private static ModelRecord Parse(string text)
    {
        var record = JsonSerializer.Deserialize<ModelRecord>(text, Json) ?? throw new InvalidDataException("null record");
        if (string.IsNullOrEmpty(record.Unit) || string.IsNullOrEmpty(record.Op) || string.IsNullOrEmpty(record.Interpolation)
            || string.IsNullOrEmpty(record.Extrapolation))
            throw new InvalidDataException("a key field is empty");
        try
        {
            _ = ArithmeticUnit.Parse(record.Unit);
            _ = ArithmeticExperiment.ParseOp(record.Op);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new InvalidDataException(e.Message);
        }

        return record;
    }

    /// <summary>
    /// Combines records from several sources: a key seen twice with the same result counts once; the same key with a
    /// different result (or settings) is an error naming the key and both sources. Records of one (unit, op, range
    /// pair) must share their settings, since they form one row of the table.
    /// </summary>
    /// <exception cref="InvalidDataException">Conflicting duplicates, or mixed settings within a row.</exception>
    public static List<ModelRecord> Combine(IEnumerable<(string Source, ModelRecord Record)> records)
    {
        var byKey = new Dictionary<ResultKey, (string Source, ModelRecord Record)>();
        var result = new List<ModelRecord>();
        foreach (var (source, record) in records)
        {
            if (byKey.TryGetValue(record.Key, out var seen))
            {
                if (seen.Record.ResultDifference(record) is { } difference)
                {
                    throw new InvalidDataException(
                        $"Conflicting results for {record.Key}: {seen.Source} and {source} differ in {difference}.");
                }

                continue;
            }

            byKey[record.Key] = (source, record);
            result.Add(record);
        }

        CheckRows(byKey.Values);
        return result;
    }

    private static void CheckRows(IEnumerable<(string Source, ModelRecord Record)> records)
    {
        foreach (var group in records.GroupBy(r => r.Record.Group))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
            {
                if (first.Record.SettingsDifference(other.Record) is { } d)
                {
                    throw new InvalidDataException(
                        $"{first.Record.Key} ({first.Source}) and {other.Record.Key} ({other.Source}) belong to one row of the table " +
                        $"but were trained with different settings: {d.Name} {d.Mine} vs {d.Theirs}.");
                }
            }
        }
    }
}

/// <summary>One row of the table: a (unit, op, range pair) over its seeds.</summary>
public sealed record SummaryRow
{
    /// <summary>Unit.</summary>
    public required string Unit { get; init; }
    /// <summary>Op.</summary>
    public required string Op { get; init; }
    /// <summary>Training range.</summary>
    public required string Interpolation { get; init; }
    /// <summary>Test range.</summary>
    public required string Extrapolation { get; init; }
    /// <summary>Models (seeds) in the row.</summary>
    public int Models { get; init; }
    /// <summary>Models that succeeded.</summary>
    public int Successes { get; init; }
    /// <summary>Successes / models.</summary>
    public double SuccessRate { get; init; }
    /// <summary>Lower end of the 95% Wilson interval.</summary>
    public double SuccessLow { get; init; }
    /// <summary>Upper end of the 95% Wilson interval.</summary>
    public double SuccessHigh { get; init; }
    /// <summary>Median over the successful models of the first step with a test MSE below the threshold (null: none succeeded).</summary>
    public double? MedianSolvedAtStep { get; init; }
    /// <summary>Median sparsity error over the successful models (null: none succeeded).</summary>
    public double? MedianSparsityError { get; init; }
    /// <summary>Median sparsity error over all models.</summary>
    public double MedianSparsityErrorAll { get; init; }
    /// <summary>Median relative error over all models (0 perfect, 100 random).</summary>
    public double MedianRelativeError { get; init; }
    /// <summary>Median test MSE at the best step.</summary>
    public double MedianExtrapolationMse { get; init; }
    /// <summary>The success threshold.</summary>
    public double Threshold { get; init; }
    /// <summary>Models whose training diverged (NaN/Inf loss).</summary>
    public int Diverged { get; init; }
    /// <summary>Steps trained.</summary>
    public int Steps { get; init; }
    /// <summary>Input width.</summary>
    public int Inputs { get; init; }
}

/// <summary>Turns records into the table rows and writes table.md, table.csv and table.json.</summary>
public static class ArithmeticTable
{
    /// <summary>One row per (range pair, unit, op): range pairs by their bounds, units and ops in the CLI's order.</summary>
    public static IReadOnlyList<SummaryRow> Rows(IEnumerable<ModelRecord> records)
    {
        var rows = new List<SummaryRow>();
        foreach (var g in records.GroupBy(r => r.Group)
            .OrderBy(g => RangeOrder(g.Key.Interpolation)).ThenBy(g => g.Key.Interpolation, StringComparer.Ordinal)
            .ThenBy(g => g.Key.Extrapolation, StringComparer.Ordinal)
            .ThenBy(g => UnitOrder(g.Key.Unit)).ThenBy(g => g.Key.Unit, StringComparer.Ordinal)
            .ThenBy(g => OpOrder(g.Key.Op)))
        {
            var list = g.OrderBy(r => r.Seed).ToArray();
            var solved = list.Where(r => r.Success).ToArray();
            var (low, high) = ArithmeticExperiment.Wilson(solved.Length, list.Length);
            rows.Add(new SummaryRow
            {
                Unit = g.Key.Unit, Op = g.Key.Op, Interpolation = g.Key.Interpolation, Extrapolation = g.Key.Extrapolation,
                Models = list.Length, Successes = solved.Length, SuccessRate = (double)solved.Length / list.Length,
                SuccessLow = low, SuccessHigh = high,
                MedianSolvedAtStep = solved.Length == 0 ? null : Median(solved.Select(r => (double)(r.FirstSuccessStep ?? r.BestStep ?? 0))),
                MedianSparsityError = solved.Length == 0 ? null : Median(solved.Select(r => r.SparsityError)),
                MedianSparsityErrorAll = Median(list.Select(r => r.SparsityError)),
                MedianRelativeError = Median(list.Select(r => r.RelativeError)),
                MedianExtrapolationMse = Median(list.Select(r => r.ExtrapolationMse)),
                Threshold = list[0].Threshold,
                Diverged = list.Count(r => r.Diverged),
                Steps = list[0].Steps,
                Inputs = list[0].Inputs,
            });
        }

        return rows;
    }

    /// <summary>The median; NaN counts as larger than every number (a diverged model is the worst).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Select(v => double.IsNaN(v) ? double.PositiveInfinity : v).Order().ToArray();
        if (sorted.Length == 0)
            return double.NaN;
        int mid = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return double.IsPositiveInfinity(median) && values.Any(double.IsNaN) ? double.NaN : median;
    }

    private static double RangeOrder(string interpolation) =>
        double.TryParse(interpolation.Split(':')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double low) ? low : double.MaxValue;

    private static int UnitOrder(string unit) => unit switch
    {
        "nac" => 0, "nac-mult" => 1, "nalu" => 2, "nalu-untied" => 3, "mlp-relu6" => 4, "mlp-linear" => 5, _ => 6,
    };

    private static int OpOrder(string op) => op switch
    {
        "add" => 0, "sub" => 1, "mul" => 2, "div" => 3, "square" => 4, "sqrt" => 5, _ => 6,
    };

    /// <summary>The op as a formula, for people.</summary>
    public static string Symbol(string op) => op switch
    {
        "add" => "a + b", "sub" => "a − b", "mul" => "a × b", "div" => "a ÷ b", "square" => "a²", "sqrt" => "√a", _ => op,
    };

    private static string G(double value, string format = "G3") =>
        double.IsNaN(value) ? "NaN" : value.ToString(format, CultureInfo.InvariantCulture);

    private static string Step(double? value) => value is { } v ? v.ToString("#,0", CultureInfo.InvariantCulture) : "—";

    /// <summary>The Markdown table, with a header that says what the numbers mean.</summary>
    public static string Markdown(IReadOnlyList<SummaryRow> rows, string? header = null)
    {
        var inv = CultureInfo.InvariantCulture;
        bool ranges = rows.Select(r => (r.Interpolation, r.Extrapolation)).Distinct().Count() > 1;
        var sb = new StringBuilder();
        if (header is not null)
            sb.Append(header).Append("\n\n");
        sb.Append(ranges ? "| unit | op | range | success | 95% CI | solved at (median step) | sparsity error | relative error | models |\n"
            : "| unit | op | success | 95% CI | solved at (median step) | sparsity error | relative error | models |\n");
        sb.Append(ranges ? "|---|---|---|---:|---|---:|---:|---:|---:|\n" : "|---|---|---:|---|---:|---:|---:|---:|\n");
        foreach (var r in rows)
        {
            sb.Append("| ").Append(r.Unit).Append(" | ").Append(Symbol(r.Op));
            if (ranges)
                sb.Append(" | U[").Append(r.Interpolation.Replace(":", ", ")).Append("] → U[").Append(r.Extrapolation.Replace(":", ", ")).Append(']');
            sb.Append(" | ").Append((100 * r.SuccessRate).ToString("0", inv)).Append("% (").Append(r.Successes).Append('/').Append(r.Models).Append(')');
            sb.Append(" | [").Append((100 * r.SuccessLow).ToString("0", inv)).Append("%, ").Append((100 * r.SuccessHigh).ToString("0", inv)).Append("%]");
            sb.Append(" | ").Append(Step(r.MedianSolvedAtStep));
            sb.Append(" | ").Append(r.MedianSparsityError is { } s ? G(s, "0.0e0") : "—");
            sb.Append(" | ").Append(RelativeText(r.MedianRelativeError));
            sb.Append(" | ").Append(r.Models).Append(r.Diverged > 0 ? $" ({r.Diverged} diverged)" : "").Append(" |\n");
        }

        sb.Append('\n');
        sb.Append("success: test (extrapolation) MSE at the best-validation step below the threshold, the test MSE of the exact solution " +
            "with first-layer weights off by ε; 95% CI: Wilson score interval; solved at: median over the successful models of the first " +
            "evaluation step below the threshold; sparsity error: median over the successful models of max min(|W|, |1 − |W||); " +
            "relative error: median of 100 × test MSE / mean test MSE of random untrained models (0 perfect, 100 random).\n");
        return sb.ToString();
    }

    private static string RelativeText(double value) =>
        double.IsNaN(value) ? "NaN"
        : value >= 1e4 ? value.ToString("0.0e0", CultureInfo.InvariantCulture)
        : value >= 0.1 || value == 0 ? value.ToString("0.0", CultureInfo.InvariantCulture)
        : value.ToString("0.0e0", CultureInfo.InvariantCulture);

    /// <summary>CSV with one row per (unit, op, range pair), every number in full.</summary>
    public static string Csv(IReadOnlyList<SummaryRow> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        string N(double? v) => v is { } x ? (double.IsNaN(x) ? "NaN" : x.ToString("R", inv)) : "";
        var sb = new StringBuilder();
        sb.Append("unit,op,interpolation,extrapolation,inputs,steps,models,successes,success_rate,success_low,success_high," +
            "median_solved_at_step,median_sparsity_error,median_sparsity_error_all,median_relative_error,median_extrapolation_mse,threshold,diverged\n");
        foreach (var r in rows)
        {
            sb.Append(string.Join(",", r.Unit, r.Op, Quote(r.Interpolation), Quote(r.Extrapolation), r.Inputs.ToString(inv), r.Steps.ToString(inv),
                r.Models.ToString(inv), r.Successes.ToString(inv), N(r.SuccessRate), N(r.SuccessLow), N(r.SuccessHigh),
                N(r.MedianSolvedAtStep), N(r.MedianSparsityError), N(r.MedianSparsityErrorAll), N(r.MedianRelativeError),
                N(r.MedianExtrapolationMse), N(r.Threshold), r.Diverged.ToString(inv))).Append('\n');
        }

        return sb.ToString();
    }

    private static string Quote(string s) => s.Contains(',') ? $"\"{s}\"" : s;

    /// <summary>JSON: the settings and the rows.</summary>
    public static string ToJson(IReadOnlyList<SummaryRow> rows, object? about = null) =>
        JsonSerializer.Serialize(new { About = about, Rows = rows }, new JsonSerializerOptions(ResultsFile.Json) { WriteIndented = true });
}
