namespace Nalu.Gpu.Training;

/// <summary>Which update rule <see cref="Nalu.Gpu.Kernels.OptimizerSettings"/> describes.</summary>
public enum OptimizerKind
{
    /// <summary>Adam (Kingma &amp; Ba), as torch.optim.Adam.</summary>
    Adam = 0,
    /// <summary>SGD with (heavy-ball) momentum, as torch.optim.SGD.</summary>
    Sgd = 1,
    /// <summary>RMSProp, as torch.optim.RMSprop (not centred).</summary>
    RmsProp = 2,
}
