using System.Diagnostics;
using Nalu.Gpu.IO;
using Xunit;
using Nalu.Gpu.Tasks;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Outputs never replace what they should write into, and never the user's inputs (issue: "nothing lost, nothing
/// clobbered"). Every case works inside a temporary folder with stand-in FIFOs and links: the suite runs as root in
/// CI, so no test ever points an output at a real /dev node.
/// </summary>
public sealed class OutputSafetyTests(CliCheckpointFixture checkpoint) : IClassFixture<CliCheckpointFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-outputs-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathIn(string name) => Path.Combine(_dir, name);

    [Fact]
    public void ARegularFileIsReplacedAtomicallyAndNoTemporaryFileIsLeft()
    {
        string path = PathIn("out.txt");
        File.WriteAllText(path, "old");
        SafeFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["out.txt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void AFailedWriteLeavesTheOldFileAndNamesTheUsersPath()
    {
        string path = PathIn("keep.txt");
        File.WriteAllText(path, "precious");
        var e = Assert.Throws<InvalidOperationException>(() => SafeFile.Write(path, _ => throw new InvalidOperationException("boom")));
        Assert.Equal("boom", e.Message);
        Assert.Equal("precious", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void ASymlinkIsWrittenThroughToItsTarget()
    {
        string target = PathIn("target.txt");
        string link = PathIn("link.txt");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);
        SafeFile.WriteAllText(link, "new");
        Assert.NotNull(new FileInfo(link).LinkTarget);   // still a link
        Assert.Equal("new", File.ReadAllText(target));
    }

    [Fact]
    public void AFifoIsWrittenIntoNotReplaced()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "FIFOs are a Unix feature.");
        string fifo = PathIn("pipe");
        using (var mkfifo = Process.Start("mkfifo", fifo))
            mkfifo.WaitForExit();
        string? read = null;
        var reader = new Thread(() => read = File.ReadAllText(fifo)) { IsBackground = true };
        reader.Start();
        SafeFile.WriteAllText(fifo, "through the pipe");
        Assert.True(reader.Join(TimeSpan.FromSeconds(10)), "the FIFO's reader never finished");
        Assert.Equal("through the pipe", read);
        Assert.Null(new FileInfo(fifo).LinkTarget);
        Assert.True(IsFifo(fifo), "the FIFO was replaced by a regular file");
    }

    [Fact]
    public void ADirectoryIsRefusedWithItsName()
    {
        var e = Assert.Throws<IOException>(() => SafeFile.WriteAllText(_dir, "x"));
        Assert.Contains(_dir, e.Message);
        Assert.Contains("directory", e.Message);
    }

    [Fact]
    public void AnOutputThatIsAnInputIsRefusedThroughLinksAndHardLinks()
    {
        string input = PathIn("in.csv");
        File.WriteAllText(input, "1,2\n");
        string soft = PathIn("soft.csv");
        File.CreateSymbolicLink(soft, input);
        var e = Assert.Throws<ArgumentException>(() => SafeFile.EnsureDistinct([("--input", input)], [("--output", soft)]));
        Assert.Contains("--input", e.Message);
        Assert.Contains("--output", e.Message);
        Assert.Throws<ArgumentException>(() => SafeFile.EnsureDistinct([("--input", input)], [("--output", Path.Combine(_dir, ".", "in.csv"))]));
        Assert.Throws<ArgumentException>(() => SafeFile.EnsureDistinct([], [("--save", PathIn("a")), ("--json", PathIn("a"))]));
        if (OperatingSystem.IsLinux())
        {
            string hard = PathIn("hard.csv");
            using (var ln = Process.Start("ln", [input, hard]))
                ln.WaitForExit();
            Assert.Throws<ArgumentException>(() => SafeFile.EnsureDistinct([("--input", input)], [("--output", hard)]));
        }

        // Distinct files, two inputs that are the same file, and standard output are all fine.
        SafeFile.EnsureDistinct([("--input", input), ("--checkpoint", soft)], [("--output", PathIn("out.csv")), ("--json", "-")]);
    }

    [Fact]
    public void PredictRefusesToWriteOverItsCheckpoint()
    {
        string model = PathIn("m.safetensors");
        File.Copy(checkpoint.CheckpointPath, model);
        byte[] before = File.ReadAllBytes(model);
        string input = PathIn("in.csv");
        File.WriteAllText(input, "1,2\n3,4\n");
        var (code, _, stderr) = CliTests.RunCli("predict", "--checkpoint", model, "--input", input, "--output", model, "--device", "cpu");
        Assert.Equal(2, code);
        Assert.Contains("same file", stderr);
        Assert.Equal(before, File.ReadAllBytes(model));
    }

    [Theory]
    [InlineData("inf,2\n3,4\n5,6\n")]
    [InlineData("0x10,2\n3,4\n5,6\n")]
    [InlineData("x,2\n3,4\n5,6\n")]
    public void PredictNeverTakesAnUnparseableDataRowForAHeader(string csv)
    {
        string input = PathIn("in.csv");
        File.WriteAllText(input, csv);
        var (code, stdout, stderr) = CliTests.RunCli("predict", "--checkpoint", checkpoint.CheckpointPath, "--input", input, "--device", "cpu");
        Assert.True(code == 1, $"exit {code}; stdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains(":1:", stderr);
        Assert.Contains("column 1", stderr);
    }

    /// <summary>CSV quoting (RFC 4180, parsed by Sep): a quoted number is that number, so the row is data, not a header.</summary>
    [Fact]
    public void PredictReadsQuotedNumbersAsData()
    {
        string input = PathIn("in.csv");
        File.WriteAllText(input, "\"1\",\"2\"\n3,4\n5,6\n");
        var (code, stdout, stderr) = CliTests.RunCli("predict", "--checkpoint", checkpoint.CheckpointPath, "--input", input, "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.Equal(4, stdout.Trim().Split('\n').Length);   // header + 3 rows
    }

    [Fact]
    public void PredictStillSkipsARealHeader()
    {
        string input = PathIn("in.csv");
        File.WriteAllText(input, "x0,x1\n1,2\n3,4\n");
        var (code, stdout, stderr) = CliTests.RunCli("predict", "--checkpoint", checkpoint.CheckpointPath, "--input", input, "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.Equal(3, stdout.Trim().Split('\n').Length);   // header + 2 rows
    }

    private static bool IsFifo(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%F", path]) { RedirectStandardOutput = true })!;
        string kind = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        return kind.Contains("fifo", StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>Divergence never loses a run: finite models are saved, the diverged ones are left out with a note, and the results are always written.</summary>
public sealed class DivergenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-diverge-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveFiniteKeepsTheFiniteModelsAndNamesTheDivergedOnes()
    {
        using var device = Nalu.Gpu.Devices.NaluDevice.Create(Nalu.Gpu.Devices.DeviceKind.Cpu);
        var architecture = Nalu.Gpu.Models.ModelArchitecture.Uniform(Nalu.Gpu.Models.UnitKind.Dense, Nalu.Gpu.Models.Activation.Relu, 2, 8, 1);
        using var model = new Nalu.Gpu.Models.Model(device, architecture, [7, 8]);
        var task = new Nalu.Gpu.Tasks.ArithmeticTask(ArithmeticOp.Mul, inputs: 2);
        using (var trainer = new Nalu.Gpu.Training.Trainer(model, task, new Nalu.Gpu.Training.TrainerOptions
        {
            EvaluateEvery = 0, Optimizer = Nalu.Gpu.Training.OptimizerOptions.Sgd(1e-3f), LearningRates = [1e-3f, 100f],
        }))
        {
            trainer.Train(300);
            Assert.Equal([false, true], trainer.Diverged);
        }

        string path = Path.Combine(_dir, "m.safetensors");
        Assert.Throws<ArgumentException>(() => Nalu.Gpu.Checkpoints.Checkpoint.Save(path, model, task, 300));
        Assert.False(File.Exists(path));
        var left = Nalu.Gpu.Checkpoints.Checkpoint.SaveFinite(path, model, task, 300);
        Assert.Equal([8], left);
        var saved = Nalu.Gpu.Checkpoints.Checkpoint.Read(path);
        Assert.Equal([7], saved.Seeds);
        Assert.Equal(model.GetParameters(0), saved.Parameters);
    }

    [Fact]
    public void ADivergedTrainRunExitsThreeAndStillWritesItsJson()
    {
        string json = Path.Combine(_dir, "d.json"), save = Path.Combine(_dir, "d.safetensors");
        var (code, stdout, stderr) = CliTests.RunCli("train", "--inputs", "2", "--hidden", "8", "--unit", "mlp", "--op", "mul",
            "--optimizer", "sgd", "--lr", "100", "--steps", "300", "--eval-samples", "100", "--device", "cpu", "--quiet",
            "--save", save, "--json", json);
        Assert.True(code == 3, $"exit {code}\n{stdout}\n{stderr}");
        Assert.True(File.Exists(json));
        Assert.Contains("\"diverged\": true", File.ReadAllText(json));
        Assert.Contains("every model diverged", stdout);
        Assert.DoesNotContain("(Parameter", stdout + stderr);
    }

    [Fact]
    public void SaveAndJsonOnTheSameFileAreRefusedBeforeTraining()
    {
        string both = Path.Combine(_dir, "x");
        var (code, _, stderr) = CliTests.RunCli("train", "--inputs", "2", "--hidden", "none", "--steps", "10", "--device", "cpu",
            "--save", both, "--json", both);
        Assert.Equal(2, code);
        Assert.Contains("same file", stderr);
        Assert.False(File.Exists(both));
    }
}

/// <summary><c>train --data</c>: the user's CSV through the CLI, with validation and test files, columns by name or index.</summary>
public sealed class TrainDataCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-data-cli-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Csv(string name, int rows, float low, float high, int seed)
    {
        var random = new Random(seed);
        var lines = new List<string> { "a,b,note,y" };
        for (int r = 0; r < rows; r++)
        {
            float a = low + (high - low) * random.NextSingle(), b = low + (high - low) * random.NextSingle();
            lines.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{a},{b},7,{a * b}"));
        }

        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void AnNmuLearnsAProductFromACsvAndExtrapolatesOnTheTestFile()
    {
        string train = Csv("train.csv", 300, 1, 2, 1), valid = Csv("valid.csv", 100, 1, 2, 2), test = Csv("test.csv", 100, 10, 20, 3);
        string json = Path.Combine(_dir, "r.json"), save = Path.Combine(_dir, "m.safetensors");
        var (code, stdout, stderr) = CliTests.RunCli("train", "--data", train, "--valid", valid, "--test", test,
            "--input-columns", "a,b", "--target-columns", "3", "--unit", "nmu", "--hidden", "none", "--lr", "0.05", "--steps", "500",
            "--eval-every", "100", "--device", "native", "--quiet", "--json", json, "--save", save);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("Test MSE", stdout);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        double testMse = doc.RootElement.GetProperty("models")[0].GetProperty("extrapolationMse").GetDouble();
        // Measured: an NMU 2→1 reaches W = [1, 1] within 500 steps at lr 0.05 (test MSE on products up to 400 ≈ 1e-9).
        Assert.True(testMse < 1e-3, $"test MSE {testMse}");
        var model = Nalu.Gpu.Checkpoints.Checkpoint.Read(save);
        Assert.Equal(2, model.Architecture.Inputs);
        Assert.Null(model.Task);
    }

    [Theory]
    [InlineData("--target-columns", "zzz", "no column named 'zzz'")]
    [InlineData("--input-columns", "a,y", "selected twice")]
    public void BadColumnSelectionsAreClearErrors(string option, string value, string expected)
    {
        string train = Csv("train.csv", 20, 1, 2, 1);
        var args = new List<string> { "train", "--data", train, "--unit", "nmu", "--hidden", "none", "--steps", "5", "--device", "cpu" };
        if (option == "--input-columns")
            args.AddRange(["--target-columns", "y"]);
        else
            args.AddRange(["--input-columns", "a,b"]);
        args.AddRange([option, value]);
        var (code, stdout, stderr) = CliTests.RunCli([.. args]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stdout + stderr);
    }

    [Fact]
    public void ColumnOptionsWithoutDataAreAUsageError()
    {
        var (code, _, stderr) = CliTests.RunCli("train", "--inputs", "2", "--steps", "5", "--valid", "v.csv");
        Assert.Equal(2, code);
        Assert.Contains("need --data", stderr);
    }
}
