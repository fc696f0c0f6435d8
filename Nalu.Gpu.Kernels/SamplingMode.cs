namespace Nalu.Gpu.Data;

/// <summary>How a stored data set's rows are chosen for step s, sample b (see <see cref="Nalu.Gpu.Kernels.DataSampling"/>).</summary>
public enum SamplingMode
{
    /// <summary>Epochs of a keyed permutation of the rows: every row once per epoch, in a new order each epoch.</summary>
    Shuffle = 0,
    /// <summary>Each sample an independent uniform row (with replacement).</summary>
    WithReplacement = 1,
    /// <summary>Rows in stored order, wrapping around: position mod N. Evaluation sets read their rows this way.</summary>
    InOrder = 2,
}
