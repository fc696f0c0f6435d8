using System.Text.Json;
using Nalu.Gpu.Bench;
using Nalu.Gpu.Devices;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>A checkpoint written once by the CLI itself, shared by the predict tests.</summary>
public sealed class CliCheckpointFixture : IDisposable
{
    public CliCheckpointFixture()
    {
        Directory = System.IO.Directory.CreateDirectory(
            Path.Combine(Path.GetTempPath(), "nalu-cli-" + Guid.NewGuid().ToString("N"))).FullName;
        CheckpointPath = Path.Combine(Directory, "nac-add.safetensors");
        var (code, stdout, stderr) = CliTests.RunCli(
            "train", "--inputs", "2", "--unit", "nac", "--op", "add", "--steps", "20", "--eval-samples", "100",
            "--device", "cpu", "--quiet", "--save", CheckpointPath);
        if (code != 0 || !File.Exists(CheckpointPath))
            throw new InvalidOperationException($"Could not create the checkpoint (exit {code}):\n{stdout}\n{stderr}");
    }

    public string Directory { get; }

    public string CheckpointPath { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>
/// The <c>nalu</c> command line, run in-process: nonsense options give a non-zero exit and a message that
/// says what is wrong. One class, so these tests never run in parallel with each other (they swap
/// <see cref="Console.Out"/> and <see cref="Console.Error"/>).
/// </summary>
public sealed class CliTests(CliCheckpointFixture checkpoint, ITestOutputHelper output) : IClassFixture<CliCheckpointFixture>
{
    private static readonly object ConsoleLock = new();

    /// <summary>Runs <c>nalu args…</c>; returns the exit code and what it wrote to stdout and stderr.</summary>
    internal static (int Code, string Stdout, string Stderr) RunCli(params string[] args)
    {
        lock (ConsoleLock)
        {
            var oldOut = Console.Out;
            var oldError = Console.Error;
            // Not disposed: libraries may keep the writer they saw first (Spectre.Console's default console does).
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = Program.Main(args);
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldError);
            }
        }
    }

    private (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var result = RunCli(args);
        output.WriteLine($"$ nalu {string.Join(' ', args)}  → exit {result.Code}");
        output.WriteLine($"stdout:\n{result.Stdout}\nstderr:\n{result.Stderr}");
        return result;
    }

    private static readonly string[] TinyTrain =
        ["train", "--inputs", "2", "--unit", "nac", "--op", "add", "--steps", "5", "--eval-samples", "50", "--device", "cpu", "--quiet"];

    /// <summary>The tiny training command with some options replaced or added (an option may appear only once).</summary>
    private static string[] Train(params string[] extra)
    {
        var options = Group(TinyTrain.Skip(1));
        foreach (var option in Group(extra))
        {
            options.RemoveAll(o => o.Name == option.Name);
            options.Add(option);
        }

        return ["train", .. options.SelectMany(o => o.Tokens)];
    }

    /// <summary>Splits arguments into options: <c>--name=value</c>, <c>--name value</c> or a flag <c>--name</c>.</summary>
    private static List<(string Name, string[] Tokens)> Group(IEnumerable<string> args)
    {
        var tokens = args.ToArray();
        var list = new List<(string Name, string[] Tokens)>();
        for (int i = 0; i < tokens.Length; i++)
        {
            string t = tokens[i];
            if (t.Contains('='))
                list.Add((t[..t.IndexOf('=')], [t]));
            else if (i + 1 < tokens.Length && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
                list.Add((t, [t, tokens[++i]]));
            else
                list.Add((t, [t]));
        }

        return list;
    }

    /// <summary>
    /// iNALU's loop recipe (gradient clipping, re-initialising stuck models) belongs to <c>--unit inalu</c>; the
    /// <c>--baseline</c> MLP beside it trains with the plain options, so its log has no recipe line.
    /// </summary>
    [Fact]
    public void TheBaselineMlpDoesNotInheritINalusRecipe()
    {
        var (code, stdout, stderr) = Run("train", "--inputs", "2", "--unit", "inalu", "--op", "mul", "--steps", "5",
            "--eval-samples", "50", "--device", "cpu", "--baseline", "--baseline-hidden", "4");
        Assert.Equal(0, code);
        string log = stdout + stderr;
        Assert.Contains("Training mlp", log, StringComparison.OrdinalIgnoreCase);
        Assert.Single(log.Split('\n'), line => line.StartsWith("Gradient clip value", StringComparison.Ordinal));
    }

    /// <summary>
    /// <c>--strategy group</c> reaches the trainer in <c>train</c> and <c>bench</c>; the two models of the train run end
    /// with the bits the fused strategy gives them (its loss column, printed in full precision by --json).
    /// </summary>
    [Fact]
    public void TrainAndBenchRunTheGroupStrategy()
    {
        var (groupCode, groupOut, _) = Run(Train("--strategy", "group", "--models", "2", "--json", "-"));
        Assert.Equal(0, groupCode);
        using var group = JsonDocument.Parse(groupOut[groupOut.IndexOf('{')..]);
        Assert.Equal("Group", group.RootElement.GetProperty("strategy").GetString());
        var (fusedCode, fusedOut, _) = Run(Train("--strategy", "fused", "--models", "2", "--json", "-"));
        Assert.Equal(0, fusedCode);
        using var fused = JsonDocument.Parse(fusedOut[fusedOut.IndexOf('{')..]);
        Assert.Equal(fused.RootElement.GetProperty("models").GetRawText(), group.RootElement.GetProperty("models").GetRawText());

        var (benchCode, benchOut, benchErr) = Run("bench", "--devices", "cpu", "--config", "reference", "--strategy", "group",
            "--seconds", "0.01", "--repeats", "1", "--no-torch", "--json", "-");
        Assert.Equal(0, benchCode);
        Assert.Contains("\"group\"", benchOut + benchErr);

        var (badCode, _, badErr) = Run(Train("--strategy", "groups"));
        Assert.NotEqual(0, badCode);
        Assert.Contains("group", badErr);
    }

    [Fact]
    public void HelpExitsZero()
    {
        var (code, stdout, stderr) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("train", stdout + stderr);
        Assert.Contains("predict", stdout + stderr);

        var (trainCode, trainOut, trainErr) = Run("train", "--help");
        Assert.Equal(0, trainCode);
        Assert.Contains("--steps", trainOut + trainErr);
    }

    [Fact]
    public void UnknownVerbIsAUsageError()
    {
        var (code, _, stderr) = Run("frobnicate", "--steps", "3");
        Assert.Equal(2, code);
        Assert.Contains("frobnicate", stderr);
    }

    [Fact]
    public void UnknownOptionIsAUsageError()
    {
        var (code, _, stderr) = Run(Train("--no-such-option"));
        Assert.Equal(2, code);
        Assert.Contains("no-such-option", stderr);
    }

    [Theory]
    [InlineData("--steps 0", "--steps 0")]
    [InlineData("--op pow", "'pow'")]
    [InlineData("--device tpu", "'tpu'")]
    [InlineData("--interpolation=5:1", "--interpolation")]
    [InlineData("--extrapolation=abc", "'abc'")]
    [InlineData("--hidden 0", "at least 1")]
    [InlineData("--hidden x", "'x'")]
    [InlineData("--batch 0", "--batch 0")]
    [InlineData("--lr=-1", "--lr")]
    [InlineData("--unit lstm", "'lstm'")]
    [InlineData("--inputs 7", "--inputs 7")]
    [InlineData("--optimizer adagrad", "'adagrad'")]
    [InlineData("--seed 2147483647 --models 3", "--seed 2147483647")]
    [InlineData("--hidden none --activation bogus", "'bogus'")]
    public void NonsenseTrainOptionIsAUsageErrorThatNamesIt(string option, string expected)
    {
        var (code, _, stderr) = Run(Train(option.Split(' ')));
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.Contains("--help", stderr); // the hint to the option list
    }

    [Fact]
    public void LibraryArgumentErrorsPrintOneLineWithoutParameterNames()
    {
        var (code, _, stderr) = Run(Train("--hidden", "100000,100000"));
        Assert.Equal(1, code);
        Assert.Contains("too large for 32-bit indexing", stderr);
        Assert.DoesNotContain("(Parameter", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void AnEmptyHiddenIsAUsageErrorNotNoHiddenLayer()
    {
        var (code, _, stderr) = Run(Train("--hidden", ""));
        Assert.Equal(2, code);
        Assert.Contains("--hidden is empty", stderr);
    }

    [Fact]
    public void TooManyModelsForTheMemoryAreRefusedBeforeAllocating()
    {
        var (code, _, stderr) = Run(Train("--models", "2000000000", "--hidden", "none"));
        Assert.Equal(1, code);
        Assert.Contains("--models 2000000000", stderr);
        Assert.Contains("GiB", stderr);
    }

    [Fact]
    public void CudaWithoutAGpuExitsOneAndSaysCuda()
    {
        Assert.SkipWhen(NaluDevice.List().Any(d => d.Kind == DeviceKind.Cuda), "A CUDA device is present.");
        var (code, _, stderr) = Run(Train("--device", "cuda"));
        Assert.Equal(1, code);
        Assert.Contains("CUDA", stderr);
    }

    [Fact]
    public void PredictWithMissingCheckpointExitsOneAndNamesTheFile()
    {
        string input = Path.Combine(checkpoint.Directory, "x.csv");
        File.WriteAllText(input, "1,2\n");
        var (code, _, stderr) = Run("predict", "--checkpoint", "missing.safetensors", "--input", input, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("missing.safetensors", stderr);
    }

    [Fact]
    public void PredictWithMissingInputExitsOneAndNamesTheFile()
    {
        string input = Path.Combine(checkpoint.Directory, "absent.csv");
        var (code, _, stderr) = Run("predict", "--checkpoint", checkpoint.CheckpointPath, "--input", input, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("absent.csv", stderr);
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,NaN\n", "NaN", ":3")]
    [InlineData("1,2\n-Infinity,1\n", "Infinity", ":2")]
    [InlineData("1,2\n3,4,5\n", "3 values", "takes 2 inputs")]
    [InlineData("1\n", "1 values", "takes 2 inputs")]
    [InlineData("1,2\n1,two\n", "'two'", "not a number")]
    [InlineData("# only a comment\n", "no data rows", "no data rows")]
    public void PredictWithBadCsvExitsOneAndNamesTheLine(string csv, string expected1, string expected2)
    {
        string input = Path.Combine(checkpoint.Directory, $"bad-{Guid.NewGuid():N}.csv");
        File.WriteAllText(input, csv);
        var (code, stdout, stderr) = Run("predict", "--checkpoint", checkpoint.CheckpointPath, "--input", input, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains(expected1, stderr);
        Assert.Contains(expected2, stderr);
        Assert.Contains(Path.GetFileName(input), stderr);
        Assert.DoesNotContain("y0", stdout); // nothing predicted
    }

    [Fact]
    public void PredictWithGoodCsvWritesOneRowPerSample()
    {
        string input = Path.Combine(checkpoint.Directory, "good.csv");
        File.WriteAllText(input, "x0,x1\n1,2\n3,4\n-1,0.5\n");
        var (code, stdout, _) = Run("predict", "--checkpoint", checkpoint.CheckpointPath, "--input", input, "--device", "cpu");
        Assert.Equal(0, code);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int header = Array.IndexOf(lines, "y0");
        Assert.True(header >= 0, "no y0 header");
        var values = lines.Skip(header + 1).Take(3).Select(l => float.Parse(l, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(3, values.Length);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void PredictWithANonCheckpointFileExitsOne()
    {
        string path = Path.Combine(checkpoint.Directory, "not-a-checkpoint.safetensors");
        File.WriteAllText(path, "hello");
        string input = Path.Combine(checkpoint.Directory, "y.csv");
        File.WriteAllText(input, "1,2\n");
        var (code, _, stderr) = Run("predict", "--checkpoint", path, "--input", input, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("not-a-checkpoint.safetensors", stderr);
    }

    [Fact]
    public void TrainWritesParsableJsonWithFiniteInterpolationMse()
    {
        string json = Path.Combine(checkpoint.Directory, "result.json");
        var (code, _, stderr) = Run(Train("--steps", "30", "--eval-samples", "200", "--json", json, "--seed", "3"));
        Assert.True(code == 0, $"exit {code}: {stderr}");
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var root = document.RootElement;
        Assert.Equal(30, root.GetProperty("steps").GetInt32());
        Assert.Equal("add", root.GetProperty("op").GetString());
        var model = Assert.Single(root.GetProperty("models").EnumerateArray());
        Assert.Equal(3, model.GetProperty("seed").GetInt32());
        double interpolation = model.GetProperty("interpolationMse").GetDouble();
        double extrapolation = model.GetProperty("extrapolationMse").GetDouble();
        Assert.True(double.IsFinite(interpolation) && interpolation >= 0, $"interpolationMse {interpolation}");
        Assert.True(double.IsFinite(extrapolation) && extrapolation >= 0, $"extrapolationMse {extrapolation}");
        Assert.False(model.GetProperty("diverged").GetBoolean());
    }

    [Theory]
    [InlineData("--unit nau --lambda-start 10 --lambda-end 5", "--lambda-end 5")]
    [InlineData("--unit nau --lambda-end 5", "--lambda-end")]                  // before the preset's start (5000)
    [InlineData("--unit nmu --lambda=-1", "--lambda")]
    [InlineData("--unit nmu --lambda NaN", "--lambda")]
    [InlineData("--unit nmu --lambda Infinity", "--lambda")]
    [InlineData("--unit nau --regularizer cubic", "'cubic'")]
    [InlineData("--unit nau --schedule-scale 0", "--schedule-scale")]
    [InlineData("--unit nau --lambda-start=-3", "--lambda-start")]
    [InlineData("--unit nalu --lambda 1", "has no regulariser")]
    [InlineData("--unit nau-nmu --hidden none", "one --hidden width")]
    public void BadRegularizerOptionIsAUsageErrorThatNamesIt(string option, string expected)
    {
        var (code, _, stderr) = Run(Train(option.Split(' ')));
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(expected));
    }

    [Theory]
    [InlineData("nau-nmu", "mul")]
    [InlineData("nau", "add")]
    [InlineData("nmu", "mul")]
    public void NauNmuTrainSaveAndPredict(string unit, string op)
    {
        string save = Path.Combine(checkpoint.Directory, $"{unit}.safetensors");
        var (code, stdout, stderr) = Run(Train("--unit", unit, "--op", op, "--hidden", "2", "--steps", "40", "--lr", "0.05",
            "--schedule-scale", "0.0001", "--save", save));
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Contains("Regulariser: sparsity-linear", stdout);
        Assert.Contains("without the regulariser", stdout);
        string input = Path.Combine(checkpoint.Directory, $"{unit}.csv");
        File.WriteAllText(input, "x0,x1\n1,2\n3,0\n");
        var (predictCode, predicted, predictError) = Run("predict", "--checkpoint", save, "--input", input, "--device", "cpu");
        Assert.True(predictCode == 0, $"exit {predictCode}: {predictError}");
        var lines = predicted.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int header = Array.IndexOf(lines, "y0");
        Assert.True(header >= 0, "no y0 header");
        Assert.All(lines.Skip(header + 1).Take(2), l => Assert.True(float.IsFinite(float.Parse(l, System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public void SaveIntoAMissingDirectoryIsAUsageError()
    {
        string save = Path.Combine(checkpoint.Directory, "no", "such", "dir", "m.safetensors");
        var (code, _, stderr) = Run(Train("--save", save));
        Assert.Equal(2, code);
        Assert.Contains("does not exist", stderr);
    }
}
