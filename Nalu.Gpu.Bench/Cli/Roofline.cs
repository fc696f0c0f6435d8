using System.Globalization;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Models;

namespace Nalu.Gpu.Bench.Cli;

/// <summary>
/// Napkin roofline of one training sample (forward + backward; a multiply-add counts as 2 flops;
/// transcendental functions count as 1 each, which flatters no one) and the machine's fp32 peak.
/// </summary>
internal static class Roofline
{
    /// <summary>Flops per sample of forward and backward (the first layer computes no input gradient).</summary>
    public static double FlopsPerSample(ModelArchitecture architecture)
    {
        double flops = 0;
        for (int l = 0; l < architecture.Layers.Count; l++)
        {
            var layer = architecture.Layers[l];
            double io = (double)layer.Inputs * layer.Outputs;
            // A recurrent cell runs every step, and needs its input gradient (the state's) at every step but the first.
            int steps = Math.Max(1, layer.Steps);
            bool inputGradient = l > 0 || steps > 1;
            flops += layer.Kind switch
            {
                // a = x·Wᵀ; raw grad δxᵀ; dx = δW
                UnitKind.Nac => 2 * io + 2 * io + (inputGradient ? 2 * io : 0),
                // z = log|x|·Wᵀ, m = exp z; grad; dx
                UnitKind.NacMult => 2 * io + layer.Inputs + layer.Outputs + 2 * io + (inputGradient ? 2 * io + layer.Inputs : 0),
                // a, z, gate dot products; logs, exp, sigmoid; three raw gradients; dx from three paths
                UnitKind.Nalu => 6 * io + layer.Inputs + 2 * layer.Outputs + 6 * io + (inputGradient ? 6 * io + layer.Inputs : 0),
                // a = x·Wᵀ; raw grad δxᵀ; dx = δW (W used directly)
                UnitKind.Nau => 2 * io + 2 * io + (inputGradient ? 2 * io : 0),
                // factors and prefix products; suffix products, raw grad and dx
                UnitKind.Nmu => 3 * io + 5 * io + (inputGradient ? 2 * io : 0),
                // four gates' dot products, sigmoid/tanh, the state update; their raw gradients; dx
                UnitKind.Lstm => 4 * (2 * io + 2 * io + (inputGradient ? 2 * io : 0)) + 12 * layer.Outputs,
                _ => 2 * io + 2 * io + (inputGradient ? 2 * io : 0) + 2 * layer.Outputs,
            } * steps;
        }

        return flops + 3 * architecture.Inputs; // data generation: one uniform draw, map and subset sum per input
    }

    /// <summary>
    /// Bytes per sample that must cross the memory bus in the fused layout: the parameters, gradients and two
    /// optimizer moments are each read and written once per step (amortised over the batch); samples are
    /// generated in registers and never stored.
    /// </summary>
    public static double BytesPerSample(ModelArchitecture architecture, int batch) =>
        architecture.ParameterCount * 4.0 * 2 * 4 / batch;

    /// <summary>Theoretical fp32 peak of the device in flop/s, and how it was derived.</summary>
    public static (double Flops, string Basis) Peak(NaluDevice device)
    {
        if (device.Kind == DeviceKind.Cuda)
        {
            // 128 fp32 lanes per SM (Volta and later) × 2 flops per FMA × clock.
            var acc = device.Accelerator;
            double clockHz = acc is ILGPU.Runtime.Cuda.CudaAccelerator cuda ? cuda.ClockRate * 1e3 : 1.5e9;
            return (acc.NumMultiprocessors * 128 * 2 * clockHz, $"{acc.NumMultiprocessors} SMs × 128 lanes × 2 × {clockHz / 1e9:F2} GHz");
        }

        double ghz = CpuGhz();
        int cores = Environment.ProcessorCount;
        // Two 8-wide fp32 FMA units per core (AVX2) × 2 flops.
        return (cores * ghz * 1e9 * 32, $"{cores} cores × {ghz:F2} GHz × 32 flops/cycle (2 AVX2 FMA units)");
    }

    private static double CpuGhz()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("cpu MHz", StringComparison.Ordinal)
                    && double.TryParse(line[(line.IndexOf(':') + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double mhz))
                    return mhz / 1000;
            }
        }
        catch (IOException)
        {
        }

        return 3.0;
    }
}
