using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Nalu.Gpu.Training;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// The public API never aborts the process, even after Dispose: every disposable throws ObjectDisposedException,
/// also when what it depends on (the model, the device) was disposed first. Before this, Train or Predict after
/// Model.Dispose() hit ILGPU's "Index out of range" assertion on the CPU accelerator and killed the process.
/// </summary>
public sealed class DisposalTests
{
    public static TheoryData<DeviceKind> Kinds => new() { DeviceKind.Cpu, DeviceKind.Native };

    private static ModelArchitecture Nac() => ModelArchitecture.Uniform(UnitKind.Nac, 2, 1);

    private static ArithmeticTask Task() => new(ArithmeticOp.Add, inputs: 2);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void AModelThrowsAfterDispose(DeviceKind kind)
    {
        using var device = NaluDevice.Create(kind);
        var model = new Model(device, Nac(), [1, 2]);
        model.Dispose();
        model.Dispose();   // idempotent
        Assert.True(model.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => model.Predict([1f, 2f], 1));
        Assert.Throws<ObjectDisposedException>(() => model.GetParameters());
        Assert.Throws<ObjectDisposedException>(() => model.GetParameters(0));
        Assert.Throws<ObjectDisposedException>(() => model.GetGradients());
        Assert.Throws<ObjectDisposedException>(() => model.SetParameters(new float[model.Count * model.ParameterCount]));
        Assert.Throws<ObjectDisposedException>(() => new Trainer(model, Task()));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ATrainerThrowsWhenItsModelWasDisposed(DeviceKind kind)
    {
        using var device = NaluDevice.Create(kind);
        var model = new Model(device, Nac(), [1]);
        using var trainer = new Trainer(model, Task(), new TrainerOptions { EvaluateEvery = 0 });
        trainer.Train(3);
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => trainer.Train(3));
        Assert.Throws<ObjectDisposedException>(() => trainer.Evaluate());
    }

    [Fact]
    public void ATrainerThrowsAfterItsOwnDispose()
    {
        using var device = NaluDevice.Create(DeviceKind.Cpu);
        using var model = new Model(device, Nac(), [1]);
        var trainer = new Trainer(model, Task(), new TrainerOptions { EvaluateEvery = 0 });
        trainer.Dispose();
        trainer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => trainer.Train(1));
        Assert.Throws<ObjectDisposedException>(() => trainer.Evaluate());
    }

    [Fact]
    public void EverythingThrowsWhenTheDeviceWasDisposed()
    {
        var device = NaluDevice.Create(DeviceKind.Cpu);
        var model = new Model(device, Nac(), [1]);
        var trainer = new Trainer(model, Task(), new TrainerOptions { EvaluateEvery = 0 });
        var tensor = DeviceTensor.FromArray(device, [1f, 2f], 1, 2);
        device.Dispose();
        device.Dispose();
        Assert.True(device.IsDisposed);
        Assert.True(model.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => device.Accelerator);
        Assert.Throws<ObjectDisposedException>(() => model.Predict([1f, 2f], 1));
        Assert.Throws<ObjectDisposedException>(() => trainer.Train(1));
        Assert.Throws<ObjectDisposedException>(() => tensor.ToArray());
        Assert.Throws<ObjectDisposedException>(() => model.Forward(tensor));
        Assert.Throws<ObjectDisposedException>(() => new Model(device, Nac(), [1]));
        // Disposing the dependants afterwards is still safe.
        trainer.Dispose();
        model.Dispose();
        tensor.Dispose();
    }

    [Fact]
    public void ATensorThrowsAfterDispose()
    {
        using var device = NaluDevice.Create(DeviceKind.Cpu);
        using var model = new Model(device, Nac(), [1]);
        var tensor = DeviceTensor.FromArray(device, [1f, 2f], 1, 2);
        tensor.Dispose();
        tensor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tensor.ToArray());
        Assert.Throws<ObjectDisposedException>(() => model.Forward(tensor));
    }
}
