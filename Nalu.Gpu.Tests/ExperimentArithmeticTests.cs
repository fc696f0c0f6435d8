using System.Text;
using System.Text.Json;
using Nalu.Gpu.Bench.Experiments;
using Nalu.Gpu.Experiments;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// <c>nalu experiment arithmetic</c> and <c>experiment merge</c> (Experiment 2): the success threshold, resuming after a
/// kill, shards, and the Wilson interval. Sweeps run a tiny grid (NAC and linear MLP, + and −, 2 seeds, 600 steps of the
/// 10-input task of --quick, where some models succeed) on the CPU accelerator.
/// </summary>
public sealed class ExperimentArithmeticTests(CpuFixture cpu, ITestOutputHelper output) : IClassFixture<CpuFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-arithmetic-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] TinyGrid =
    [
        "--units", "nac,mlp-linear", "--ops", "add,sub", "--seeds", "2", "--steps", "600", "--eval-every", "100",
        "--inputs", "10", "--subset", "3", "--gap", "3", "--eval-samples", "500", "--threshold-samples", "20000", "--lr", "0.03",
        "--device", "cpu",
    ];

    // ---------------------------------------------------------------- (1) the success threshold

    [Theory]
    [InlineData(ArithmeticOp.Add)]
    [InlineData(ArithmeticOp.Sub)]
    public void Threshold_EqualsTheClosedForm(ArithmeticOp op)
    {
        // 100 inputs on U[2,6] (mean 4, variance 4/3), A = [0,25), B = [13,38): a' + b' − (a + b) = 2ε(S − a − b) with
        // S − a − b = (62 inputs outside A ∪ B) − (12 inputs in A ∩ B); a' − b' − (a − b) = 2ε(b − a), b − a = 13 − 13 inputs.
        const double eps = 1e-5, mean = 4, variance = 16.0 / 12;
        double expected = op == ArithmeticOp.Add
            ? 4 * eps * eps * (Math.Pow(mean * (62 - 12), 2) + variance * (62 + 12))
            : 4 * eps * eps * (variance * 26);
        double threshold = ArithmeticExperiment.Threshold(new ArithmeticTask(op), eps, 400_000);
        output.WriteLine($"{op}: threshold {threshold:G6}, closed form {expected:G6}");
        Assert.Equal(expected, threshold, expected * 0.01);
    }

    [Theory]
    [InlineData(ArithmeticOp.Add)]
    [InlineData(ArithmeticOp.Sub)]
    [InlineData(ArithmeticOp.Mul)]
    [InlineData(ArithmeticOp.Div)]
    [InlineData(ArithmeticOp.Square)]
    [InlineData(ArithmeticOp.Sqrt)]
    public void Threshold_MatchesAnIndependentMonteCarlo(ArithmeticOp op)
    {
        // Independent code: System.Random draws, explicit weight matrices (1 − ε on the subsets, ε elsewhere), X·W, then op.
        const int inputs = 100, samples = 200_000;
        const double eps = 1e-5;
        var exact = new double[2, inputs];
        var perturbed = new double[2, inputs];
        for (int i = 0; i < inputs; i++)
        {
            exact[0, i] = i < 25 ? 1 : 0;
            exact[1, i] = i is >= 13 and < 38 ? 1 : 0;
            for (int h = 0; h < 2; h++)
                perturbed[h, i] = exact[h, i] == 1 ? 1 - eps : eps;
        }

        var random = new Random(12345);
        var x = new double[inputs];
        double sum = 0;
        for (int n = 0; n < samples; n++)
        {
            for (int i = 0; i < inputs; i++)
                x[i] = 2 + 4 * random.NextDouble();
            double Out(double[,] w)
            {
                double a = 0, b = 0;
                for (int i = 0; i < inputs; i++)
                {
                    a += w[0, i] * x[i];
                    b += w[1, i] * x[i];
                }

                return op switch
                {
                    ArithmeticOp.Add => a + b, ArithmeticOp.Sub => a - b, ArithmeticOp.Mul => a * b,
                    ArithmeticOp.Div => a / b, ArithmeticOp.Square => a * a, _ => Math.Sqrt(a),
                };
            }

            double d = Out(perturbed) - Out(exact);
            sum += d * d;
        }

        double direct = sum / samples;
        double threshold = ArithmeticExperiment.Threshold(new ArithmeticTask(op), eps, samples);
        output.WriteLine($"{op}: threshold {threshold:G6}, direct Monte Carlo {direct:G6}");
        // Two independent estimates of 200,000 samples each: relative standard error about 0.3%; allow 3%.
        Assert.Equal(direct, threshold, direct * 0.03);
    }

    /// <summary>
    /// NAC 100→2→1 parameters whose effective weights are the solution of a + b, off by <paramref name="eps"/>
    /// (0: exact; W = tanh(Ŵ)·σ(M̂) with M̂ = 20, σ(20) = 1 in float32, and Ŵ = atanh(w)).
    /// </summary>
    private static float[] NacAddSolution(ModelArchitecture architecture, ArithmeticTask task, int seed, double eps)
    {
        var p = new float[architecture.ParameterCount];
        var (first, second) = task.Subsets(seed);
        float Hat(double w) => w >= 1 ? 20f : (float)Math.Atanh(w);
        int w1 = 2 * 100;
        for (int i = 0; i < 100; i++)
        {
            p[i] = Hat(i >= first && i < first + 25 ? 1 - eps : eps);
            p[100 + i] = Hat(i >= second && i < second + 25 ? 1 - eps : eps);
        }

        for (int k = 0; k < w1; k++)
            p[w1 + k] = 20f;
        int l1 = architecture.LayerOffset(1);
        p[l1] = p[l1 + 1] = 20f;      // second layer Ŵ: exactly 1 (tanh(20) = 1 in float32), not perturbed
        p[l1 + 2] = p[l1 + 3] = 20f;  // second layer M̂
        return p;
    }

    [Fact]
    public void ExactSolution_IsBelowTheThreshold_AndAPerturbedOneAbove()
    {
        var task = new ArithmeticTask(ArithmeticOp.Add);
        var unit = ArithmeticUnit.Parse("nac");
        var architecture = unit.Architecture(100, 2);
        int[] seeds = [3, 3];
        using var model = new Model(cpu.Device, architecture, seeds);
        model.SetParameters(NacAddSolution(architecture, task, seeds[0], 0), 0);
        model.SetParameters(NacAddSolution(architecture, task, seeds[1], 1e-2), 1);
        using var trainer = new Trainer(model, task, new TrainerOptions { ValidationSamples = 100, TestSamples = 10_000, EvaluationChunks = 32 });
        var test = trainer.Evaluate().Extrapolation;

        double threshold = ArithmeticExperiment.Threshold(task, 1e-5, 200_000);
        double perturbedThreshold = ArithmeticExperiment.Threshold(task, 1e-2, 200_000);
        output.WriteLine($"threshold {threshold:G4}; exact model {test[0]:G4}; ε = 1e-2 model {test[1]:G4} (its Monte Carlo value {perturbedThreshold:G4})");
        Assert.True(ArithmeticExperiment.IsSuccess(test[0], threshold), $"exact solution: test MSE {test[0]:G4} vs threshold {threshold:G4}");
        Assert.True(test[0] < threshold / 100, "float32 round-off of the exact solution should be far below the threshold");
        Assert.False(ArithmeticExperiment.IsSuccess(test[1], threshold), $"perturbed solution: test MSE {test[1]:G4} vs threshold {threshold:G4}");
        Assert.False(ArithmeticExperiment.IsSuccess(double.NaN, threshold));
        // The model with weights off by 1e-2 is exactly the threshold's construction at ε = 1e-2: its MSE on the 10,000
        // test samples must match the Monte Carlo value (sampling error about 1.4%).
        Assert.Equal(perturbedThreshold, test[1], perturbedThreshold * 0.08);

        // Sparsity error: max min(|W|, |1 − |W||) is 0 for the exact solution and ε for the perturbed one.
        Assert.True(ArithmeticExperiment.SparsityError(architecture, model.GetParameters(0)) < 1e-6);
        Assert.Equal(1e-2, ArithmeticExperiment.SparsityError(architecture, model.GetParameters(1)), 1e-5);
    }

    // ---------------------------------------------------------------- (2) resume after a kill

    private static List<ModelRecord> Records(string dir) =>
        ResultsFile.Load(Path.Combine(dir, "results.jsonl"), repair: false).Records;

    /// <summary>Every field of every record, by key, except the population size, wall time and device.</summary>
    private static SortedDictionary<string, string> Comparable(IEnumerable<ModelRecord> records) =>
        new(records.ToDictionary(r => r.Key.ToString(),
            r => ResultsFile.ToLine(r with { Population = 0, WallSeconds = 0, Device = "" })), StringComparer.Ordinal);

    private (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var result = CliTests.RunCli(args);
        output.WriteLine($"$ nalu {string.Join(" ", args)}  → exit {result.Code}\n{result.Stdout}{result.Stderr}");
        return result;
    }

    [Fact]
    public void Resume_AfterAKillMidLine_LosesNothingAndGivesTheSameNumbers()
    {
        string full = Path.Combine(_dir, "full"), killed = Path.Combine(_dir, "killed");
        Assert.Equal(0, Cli(["experiment", "arithmetic", .. TinyGrid, "--out", full]).Code);
        var reference = Records(full);
        Assert.Equal(8, reference.Count);
        Assert.Contains(reference, r => r.Success && r.FirstSuccessStep is > 0);   // the comparison covers successes too
        Assert.Contains(reference, r => !r.Success);

        // A kill while the 4th record was being written: 3 whole lines and half of the 4th.
        Directory.CreateDirectory(killed);
        var lines = File.ReadAllLines(Path.Combine(full, "results.jsonl"));
        File.WriteAllText(Path.Combine(killed, "results.jsonl"), string.Join("\n", lines.Take(3)) + "\n" + lines[3][..(lines[3].Length / 2)]);

        var (code, stdout, _) = Cli(["experiment", "arithmetic", .. TinyGrid, "--out", killed]);
        Assert.Equal(0, code);
        Assert.Contains("the last line", stdout);
        Assert.Contains("Resuming: 3 of 8 models", stdout);
        var resumed = Records(killed);
        Assert.Equal(8, resumed.Count);
        Assert.Equal(Comparable(reference), Comparable(resumed));
        Assert.Equal(File.ReadAllText(Path.Combine(full, "table.csv")), File.ReadAllText(Path.Combine(killed, "table.csv")));

        // A third run has nothing left to do and changes nothing.
        var (again, againOut, _) = Cli(["experiment", "arithmetic", .. TinyGrid, "--out", killed]);
        Assert.Equal(0, again);
        Assert.Contains("Resuming: 8 of 8 models", againOut);
        Assert.Equal(8, Records(killed).Count);
    }

    [Fact]
    public void Resume_RefusesADamagedFileAndChangedSettings()
    {
        string dir = Path.Combine(_dir, "damaged");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "results.jsonl");
        var record = new ModelRecord
        {
            Unit = "nac", Op = "add", Interpolation = "1:2", Extrapolation = "2:6", Seed = 0, Inputs = 10, Hidden = 2, SubsetSize = 3, SubsetGap = 3, Steps = 999,
            Batch = 128, LearningRate = 0.03f, EvalEvery = 100, EvalSamples = 500, Epsilon = 1e-5, ThresholdSamples = 20000,
        };
        // A bad line that is not the last one: damage, not an interrupted write.
        File.WriteAllText(path, ResultsFile.ToLine(record) + "\n{\"unit\": garbage\n" + ResultsFile.ToLine(record with { Seed = 1 }) + "\n");
        var (code, _, stderr) = Cli(["experiment", "arithmetic", .. TinyGrid, "--out", dir]);
        Assert.Equal(1, code);
        Assert.Contains("line 2", stderr);

        // A record of this grid trained with other settings (--steps 999).
        File.WriteAllText(path, ResultsFile.ToLine(record) + "\n");
        (code, _, stderr) = Cli(["experiment", "arithmetic", .. TinyGrid, "--out", dir]);
        Assert.Equal(2, code);
        Assert.Contains("steps 999", stderr);
    }

    // ---------------------------------------------------------------- (3) shards

    [Fact]
    public void Shards_MergedEqualTheUnshardedRun()
    {
        string whole = Path.Combine(_dir, "whole"), merged = Path.Combine(_dir, "merged");
        Assert.Equal(0, Cli(["experiment", "arithmetic", .. TinyGrid, "--out", whole]).Code);
        var shardFiles = new List<string>();
        var seen = new HashSet<string>();
        for (int k = 0; k < 3; k++)
        {
            string dir = Path.Combine(_dir, $"shard{k}");
            Assert.Equal(0, Cli(["experiment", "arithmetic", .. TinyGrid, "--shard", $"{k}/3", "--out", dir]).Code);
            var records = Records(dir);
            Assert.InRange(records.Count, 2, 3);   // 8 models round-robin over 3 shards: 3, 3, 2
            Assert.All(records, r => Assert.True(seen.Add(r.Key.ToString()), $"{r.Key} is in two shards"));
            shardFiles.Add(Path.Combine(dir, "results.jsonl"));
        }

        // The same shard twice counts once.
        var (code, stdout, _) = Cli(["experiment", "merge", "--out", merged, .. shardFiles, shardFiles[0]]);
        Assert.Equal(0, code);
        Assert.Contains("8 model(s)", stdout);
        Assert.Equal(Comparable(Records(whole)), Comparable(Records(merged)));
        Assert.Equal(File.ReadAllText(Path.Combine(whole, "table.csv")), File.ReadAllText(Path.Combine(merged, "table.csv")));
        foreach (string file in new[] { "table.md", "table.json", "success.png" })
            Assert.True(File.Exists(Path.Combine(merged, file)), $"{file} was not written");
        Assert.Empty(Directory.GetFiles(merged, "*.tmp-*"));

        // A model whose result differs between two files is an error that names it.
        string conflicting = Path.Combine(_dir, "conflict.jsonl");
        var first = Records(Path.GetDirectoryName(shardFiles[0])!)[0];
        File.WriteAllText(conflicting, ResultsFile.ToLine(first with { ExtrapolationMse = first.ExtrapolationMse * 2 + 1 }) + "\n");
        string stderr;
        (code, _, stderr) = Cli(["experiment", "merge", "--out", Path.Combine(_dir, "bad"), shardFiles[0], conflicting]);
        Assert.Equal(1, code);
        Assert.Contains(first.Key.ToString(), stderr);
        Assert.Contains("extrapolationMse", stderr);

        // A well-formed but invalid last record (an unknown unit) is damage, not a torn write: an error naming the line.
        string bogus = Path.Combine(_dir, "bogus.jsonl");
        File.WriteAllText(bogus, ResultsFile.ToLine(first) + "\n" + ResultsFile.ToLine(first with { Unit = "bogus", Seed = 99 }) + "\n");
        (code, _, stderr) = Cli(["experiment", "merge", "--out", Path.Combine(_dir, "bad2"), bogus]);
        Assert.Equal(1, code);
        Assert.Contains("line 2", stderr);
        Assert.Contains("'bogus'", stderr);

        // An empty input is an error too, not a silent table of nothing.
        string empty = Path.Combine(_dir, "empty.jsonl");
        File.WriteAllText(empty, "");
        (code, _, stderr) = Cli(["experiment", "merge", "--out", Path.Combine(_dir, "bad3"), empty]);
        Assert.Equal(1, code);
        Assert.Contains("no result records", stderr);
    }

    // ---------------------------------------------------------------- (4) the Wilson interval

    [Theory]
    // Expected values to 4 decimals from the closed form with z = 1.96 (e.g. Wikipedia, "Binomial proportion
    // confidence interval"; 81/263 is the worked example of Wallis 2013), computed independently in Python.
    [InlineData(0, 10, 0.0000, 0.2775)]
    [InlineData(5, 10, 0.2366, 0.7634)]
    [InlineData(10, 10, 0.7225, 1.0000)]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(1, 3, 0.0615, 0.7923)]
    [InlineData(0, 3, 0.0000, 0.5615)]
    public void Wilson_MatchesKnownValues(int successes, int n, double low, double high)
    {
        var (l, h) = ArithmeticExperiment.Wilson(successes, n);
        Assert.Equal(low, l, 4);
        Assert.Equal(high, h, 4);
    }

    [Fact]
    public void Wilson_RejectsImpossibleCounts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ArithmeticExperiment.Wilson(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArithmeticExperiment.Wilson(-1, 2));
        Assert.Equal((0.0, 1.0), ArithmeticExperiment.Wilson(0, 0));
    }

    // ---------------------------------------------------------------- options and files

    [Theory]
    [InlineData("--shard", "3/3")]
    [InlineData("--shard", "1")]
    [InlineData("--units", "nac,bogus")]
    [InlineData("--ops", "add,pow")]
    [InlineData("--ranges", "1:2")]
    [InlineData("--ranges", "2:1=2:6")]
    [InlineData("--steps", "0")]
    [InlineData("--inputs", "10")]
    [InlineData("--schedule-scale", "0")]
    public void BadOptions_ExitWith2AndSayWhy(string option, string value)
    {
        var (code, _, stderr) = Cli("experiment", "arithmetic", option, value, "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains("error:", stderr);
    }

    /// <summary>A regulariser option when no unit of the run is a preset is a usage error, not silently ignored.</summary>
    [Fact]
    public void RegularizerOptionWithoutAPreset_ExitsWith2()
    {
        var (code, _, stderr) = Cli("experiment", "arithmetic", "--units", "nac,nalu", "--lambda", "1", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains("--lambda", stderr);
    }

    [Theory]
    [InlineData("--lambda-end", "5", "--lambda-end")]
    [InlineData("--lambda", "-1", "--lambda")]
    [InlineData("--lambda", "NaN", "--lambda")]
    [InlineData("--regularizer", "cubic", "--regularizer")]
    public void BadRegularizerOptions_ExitWith2AndNameTheOption(string option, string value, string expected)
    {
        var (code, _, stderr) = Cli("experiment", "arithmetic", "--units", "nau-nmu", $"{option}={value}", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
    }

    [Fact]
    public void Presets_RunWithTheirScheduleInTheTable_AndOldUnitsKeepTheirRows()
    {
        // A plain unit's rows carry no regulariser field, so results files written before presets existed resume unchanged.
        string dir = Path.Combine(_dir, "presets");
        string[] common = ["experiment", "arithmetic", "--quick", "--ops", "mul", "--seeds", "2", "--steps", "40", "--eval-every", "20",
            "--threshold-samples", "1000", "--device", "cpu", "--quiet", "--out", dir];
        Assert.Equal(0, Cli([.. common, "--units", "nac"]).Code);
        Assert.DoesNotContain("regularizer", File.ReadAllText(Path.Combine(dir, "results.jsonl")));
        Assert.Equal(0, Cli([.. common, "--units", "nac,nau-nmu,nau"]).Code);
        var records = Records(dir);
        Assert.Equal(6, records.Count);
        // --quick scales the schedules by 0.005 and lowers the NMU presets' λ̂ from 10 to 0.1; nau keeps its λ̂.
        Assert.Equal("sparsity-linear λ̂=0.1, steps 5000→10000", records.First(r => r.Unit == "nau-nmu").Regularizer);
        Assert.Equal("sparsity-linear λ̂=0.01, steps 25→250", records.First(r => r.Unit == "nau").Regularizer);
        Assert.Null(records.First(r => r.Unit == "nac").Regularizer);
        string table = File.ReadAllText(Path.Combine(dir, "table.md"));
        Assert.Contains("nau-nmu: sparsity-linear λ̂=0.1, steps 5000→10000", table);
        Assert.Contains("--quick", table);

        // Another schedule for the same rows is refused, naming the setting.
        var (code, _, stderr) = Cli([.. common, "--units", "nau-nmu", "--schedule-scale", "0.002"]);
        Assert.Equal(2, code);
        Assert.Contains("regularizer", stderr);
    }

    /// <summary>
    /// Fewer steps than the evaluation interval: the step-0 evaluation is recorded (the untrained model is the first
    /// candidate for the best step) and the final step is evaluated, so every model gets a record. It used to stop with an
    /// index error, because step 0 was evaluated without being recorded.
    /// </summary>
    [Fact]
    public void StepsBelowTheEvaluationInterval_StillScoreEveryModel()
    {
        var settings = new ArithmeticSettings
        {
            Units = [ArithmeticUnit.Parse("nac")], Ops = [ArithmeticOp.Add], Seeds = 2, Steps = 30, EvalEvery = 100,
            EvalSamples = 200, ThresholdSamples = 10_000, Inputs = 10, SubsetSize = 3, SubsetGap = 3,
        };
        var records = new List<ModelRecord>();
        ArithmeticExperiment.Run(cpu.Device, settings, ArithmeticExperiment.Grid(settings), records.AddRange);
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.True(r.BestStep is 0 or 30, $"best step {r.BestStep}"));
        Assert.All(records, r => Assert.True(double.IsFinite(r.ExtrapolationMse), $"extrapolation MSE {r.ExtrapolationMse}"));
    }

    [Fact]
    public void Merge_OfAMissingFile_Fails()
    {
        var (code, _, stderr) = Cli("experiment", "merge", "--out", Path.Combine(_dir, "m"), Path.Combine(_dir, "nope.jsonl"));
        Assert.Equal(1, code);
        Assert.Contains("nope.jsonl", stderr);
    }

    [Fact]
    public void ResultsFile_RoundTripsNaN()
    {
        var record = new ModelRecord
        {
            Unit = "nalu", Op = "mul", Interpolation = "1:2", Extrapolation = "2:6", Seed = 7, Inputs = 100, Hidden = 2, SubsetSize = 25, SubsetGap = 13, Steps = 10,
            Batch = 128, LearningRate = 1e-3f, EvalEvery = 5, EvalSamples = 10, Epsilon = 1e-5, ThresholdSamples = 10,
            ExtrapolationMse = double.NaN, RelativeError = double.NaN, Diverged = true,
        };
        string path = Path.Combine(_dir, "nan.jsonl");
        ResultsFile.Append(path, record);
        var back = Assert.Single(ResultsFile.Load(path, repair: false).Records);
        Assert.True(double.IsNaN(back.ExtrapolationMse));
        Assert.Null(back.BestStep);
        Assert.Null(back.ResultDifference(record));
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal("NaN", json.RootElement.GetProperty("extrapolationMse").GetString());
        Assert.Equal(Encoding.UTF8.GetByteCount(ResultsFile.ToLine(record)) + 1, new FileInfo(path).Length);
    }
}
