namespace Nalu.Gpu.Tasks;

/// <summary>The arithmetic operations of the static arithmetic task.</summary>
public enum ArithmeticOp
{
    /// <summary>a + b</summary>
    Add = 0,
    /// <summary>a − b</summary>
    Sub = 1,
    /// <summary>a × b</summary>
    Mul = 2,
    /// <summary>a ÷ b</summary>
    Div = 3,
    /// <summary>a²</summary>
    Square = 4,
    /// <summary>√a</summary>
    Sqrt = 5,
    /// <summary>a (the scalar identity of the NALU paper's first figure; with one input, a = x₀).</summary>
    Identity = 6,
}
