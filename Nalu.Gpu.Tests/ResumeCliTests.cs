using System.Text.Json.Nodes;
using Nalu.Gpu.Checkpoints;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Resuming from the command line: <c>train --resume</c> continues a run saved by <c>train --save</c> bit for bit (the
/// final checkpoints are byte-identical), and refuses another run's checkpoint; <c>experiment arithmetic</c> stopped after
/// a population checkpoint and run again gives the results table of the uninterrupted run, byte for byte.
/// </summary>
public sealed class ResumeCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-resume-cli-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var result = CliTests.RunCli(args);
        output.WriteLine($"$ nalu {string.Join(" ", args)}  → exit {result.Code}\n{result.Stdout}{result.Stderr}");
        return result;
    }

    private string In(string name) => Path.Combine(_dir, name);

    private static readonly string[] Run =
    [
        "train", "--unit", "nau", "--op", "add", "--inputs", "2", "--models", "3", "--eval-every", "100", "--eval-samples", "200",
        "--device", "native", "--quiet",
    ];

    [Fact]
    public void TrainResume_ContinuesTheRunBitForBit()
    {
        Assert.Equal(0, Cli([.. Run, "--steps", "400", "--json", In("full.json"), "--save", In("full.safetensors")]).Code);
        Assert.Equal(0, Cli([.. Run, "--steps", "200", "--save", In("run.safetensors")]).Code);
        var (code, stdout, _) = Cli([.. Run, "--steps", "400", "--resume", In("run.safetensors"), "--save", In("run.safetensors"), "--json", In("run.json")]);
        Assert.Equal(0, code);
        Assert.Contains("Resuming from step 200", stdout);
        Assert.Equal(File.ReadAllBytes(In("full.safetensors")), File.ReadAllBytes(In("run.safetensors")));
        Assert.Equal(JsonNode.Parse(File.ReadAllText(In("full.json")))!["models"]!.ToJsonString(),
            JsonNode.Parse(File.ReadAllText(In("run.json")))!["models"]!.ToJsonString());
        Assert.Equal(400, Checkpoint.Read(In("run.safetensors")).Training!.Step);
    }

    [Theory]
    [InlineData("--op", "sub", "task: Add")]
    [InlineData("--lr", "0.1", "learning rate: 0.001 in the checkpoint, 0.1 here")]
    [InlineData("--batch", "64", "batch: 128 in the checkpoint, 64 here")]
    [InlineData("--seed", "5", "seeds: [0, 1, 2] in the checkpoint, [5, 6, 7] here")]
    [InlineData("--steps", "100", "is at step 100; --steps is the run's total")]
    public void TrainResume_OfAnotherRun_ExitsWith2NamingTheDifference(string option, string value, string expected)
    {
        Assert.Equal(0, Cli([.. Run, "--steps", "100", "--save", In("run.safetensors")]).Code);
        var args = Run.ToList();
        int at = args.IndexOf(option);
        if (at >= 0)
            args[at + 1] = value;   // --op is already in Run
        else
            args.AddRange([option, value]);
        if (option != "--steps")
            args.AddRange(["--steps", "300"]);
        var (code, _, stderr) = Cli([.. args, "--resume", In("run.safetensors")]);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("(Parameter", stderr);
    }

    [Fact]
    public void TrainResume_OfACheckpointWithoutState_ExitsWith2()
    {
        using (var device = Devices.NaluDevice.Create(Devices.DeviceKind.Native))
        using (var model = new Models.Model(device, Models.ModelArchitecture.Uniform(Models.UnitKind.Nau, 2, 2, 1), [0, 1, 2]))
            Checkpoint.Save(In("plain.safetensors"), model);
        var (code, _, stderr) = Cli([.. Run, "--steps", "300", "--resume", In("plain.safetensors")]);
        Assert.Equal(2, code);
        Assert.Contains("holds no training state", stderr);
        Assert.Equal(2, Cli([.. Run, "--steps", "300", "--resume", In("plain.safetensors"), "--json", In("plain.safetensors")]).Code);
    }

    private static string[] Grid(string units) =>
    [
        "experiment", "arithmetic", "--units", units, "--ops", "add,sub", "--seeds", "2", "--steps", "600", "--eval-every", "100",
        "--inputs", "10", "--subset", "3", "--gap", "3", "--eval-samples", "500", "--threshold-samples", "20000", "--lr", "0.03",
        "--device", "cpu",
    ];

    [Fact]
    public void ExperimentStoppedAfterACheckpoint_ResumesToTheSameTable()
    {
        string full = In("full"), stopped = In("stopped");
        string[] grid = Grid("mlp-linear,nac");
        Assert.Equal(0, Cli([.. grid, "--out", full, "--checkpoint-every", "0"]).Code);
        // The resumed population has a model that first succeeds by step 300, so the resume must replay the saved
        // evaluations to record that step (a later evaluation would give a later one).
        Assert.Contains(Records(full), r => r.Contains("\"unit\":\"nac\"") && r.Contains("\"firstSuccessStep\":300"));

        // Checkpoints every 150 steps (not a multiple of the 50-step launches): the first population writes 3 and is
        // recorded (its file deleted), the second stops right after its 2nd, at step 300, as a kill would.
        var (code, stdout, _) = Cli([.. grid, "--out", stopped, "--checkpoint-every", "150", "--stop-after-checkpoints", "5"]);
        Assert.Equal(130, code);
        Assert.Contains("Stopped after 5 checkpoint(s)", stdout);
        var left = Assert.Single(Directory.GetFiles(Path.Combine(stopped, "checkpoints")));
        Assert.StartsWith("nac_", Path.GetFileName(left));
        Assert.Equal(300, Checkpoint.Read(left).Step);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(stopped, "results.jsonl")).Length);

        (code, stdout, _) = Cli([.. grid, "--out", stopped, "--checkpoint-every", "150"]);
        Assert.Equal(0, code);
        Assert.Contains("Resuming nac 1:2=2:6 (4 models) from step 300", stdout);
        Assert.Empty(Directory.GetFiles(Path.Combine(stopped, "checkpoints")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(full, "table.csv")), File.ReadAllBytes(Path.Combine(stopped, "table.csv")));
        Assert.Equal(Records(full), Records(stopped));
    }

    [Fact]
    public void ExperimentCheckpointOfOtherSettings_IsANoteAndTheRunStartsOver()
    {
        string dir = In("other");
        Assert.Equal(130, Cli([.. Grid("nac"), "--out", dir, "--checkpoint-every", "150", "--stop-after-checkpoints", "1"]).Code);
        string file = Assert.Single(Directory.GetFiles(Path.Combine(dir, "checkpoints")));
        File.WriteAllBytes(file, File.ReadAllBytes(file)[..100]);   // damaged
        var (code, stdout, _) = Cli([.. Grid("nac"), "--out", dir, "--checkpoint-every", "0"]);
        Assert.Equal(0, code);
        Assert.Contains("does not continue nac", stdout);
        Assert.Contains("training it from step 0", stdout);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "checkpoints")));
    }

    /// <summary>results.jsonl without the wall-clock times, sorted.</summary>
    private static string[] Records(string dir) => File.ReadAllLines(Path.Combine(dir, "results.jsonl")).Select(line =>
    {
        var node = JsonNode.Parse(line)!.AsObject();
        node.Remove("wallSeconds");
        return node.ToJsonString();
    }).Order(StringComparer.Ordinal).ToArray();
}
