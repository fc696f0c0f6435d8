// The host-facing enums and settings that device code also reads (ArithmeticOp, OptimizerKind, SamplingMode,
// RegularizerSettings, INaluRecipe) live in this assembly but in the host namespaces where users look for them
// (Nalu.Gpu.Tasks, .Training, .Data, .Models), so host code never needs a `using Nalu.Gpu.Kernels`.
global using Nalu.Gpu.Data;
global using Nalu.Gpu.Models;
global using Nalu.Gpu.Tasks;
global using Nalu.Gpu.Training;
