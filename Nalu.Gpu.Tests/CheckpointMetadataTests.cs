using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Every checkpoint metadata entry is validated: null, wrong types, a negative step and inconsistent widths are one clear
/// CheckpointFormatException each. Before, "architecture": "[null]" and "task": "null" aborted the process with a
/// NullReferenceException, and a negative step was accepted.
/// </summary>
public sealed class CheckpointMetadataTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-meta-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Good()
    {
        string path = Path.Combine(_dir, "good.safetensors");
        using var device = NaluDevice.Create(DeviceKind.Cpu);
        using var model = new Model(device, ModelArchitecture.Uniform(UnitKind.Nac, 2, 1), [1]);
        Checkpoint.Save(path, model, new ArithmeticTask(ArithmeticOp.Add, inputs: 2), 10);
        return path;
    }

    [Theory]
    [InlineData("architecture", "[null]", "layer 0 is null")]
    [InlineData("architecture", "null", "'architecture' is null")]
    [InlineData("architecture", "[]", "no layers")]
    [InlineData("architecture", "{\"kind\":1}", "'architecture' is not a list of layers")]
    [InlineData("task", "null", "'task' is null")]
    [InlineData("task", "[1,2]", "'task' is not a task object")]
    [InlineData("seeds", "[null]", "holds a null")]
    [InlineData("seeds", "\"x\"", "'seeds' is not a list of integer seeds")]
    [InlineData("seeds", "[]", "seed list is empty")]
    [InlineData("step", "-5", "'step' is '-5'")]
    [InlineData("step", "ten", "'step' is 'ten'")]
    [InlineData("task", "{\"op\":\"Add\",\"inputs\":3,\"interpolation\":\"1:2\",\"extrapolation\":\"2:6\",\"subsetSize\":1,\"subsetGap\":1}", "the task has 3 inputs")]
    public void BadMetadataIsOneClearLine(string key, string value, string expected)
    {
        var (tensors, metadata) = SafeTensorsFile.Read(Good());
        var changed = metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        changed[key] = value;
        string path = Path.Combine(_dir, "bad.safetensors");
        SafeTensorsFile.Write(path, tensors, changed);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Read(path));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("System.", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}
