using System.Globalization;

namespace Nalu.Gpu.Data;

/// <summary>
/// Selects one CSV column, by its header name or by its 0-based index. <c>"a"</c> and <c>2</c> convert implicitly,
/// so <c>CsvMatrix.Read(path, ["a", "b"])</c> and <c>CsvMatrix.Read(path, [0, 1])</c> both work.
/// </summary>
public readonly record struct CsvColumn
{
    private CsvColumn(string? name, int index)
    {
        Name = name;
        Index = index;
    }

    /// <summary>The header name, or null when the column is selected by <see cref="Index"/>.</summary>
    public string? Name { get; }

    /// <summary>The 0-based index, or −1 when the column is selected by <see cref="Name"/>.</summary>
    public int Index { get; }

    /// <summary>The column whose header cell is <paramref name="name"/> (compared exactly, after trimming the header's spaces).</summary>
    public static CsvColumn Named(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new CsvColumn(name.Trim(), -1);
    }

    /// <summary>The column at 0-based <paramref name="index"/>.</summary>
    public static CsvColumn At(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new CsvColumn(null, index);
    }

    /// <summary>Same as <see cref="Named"/>.</summary>
    public static implicit operator CsvColumn(string name) => Named(name);

    /// <summary>Same as <see cref="At"/>.</summary>
    public static implicit operator CsvColumn(int index) => At(index);

    /// <summary>
    /// Parses a command-line selector: digits only mean a 0-based index, anything else a name. This is never ambiguous,
    /// because a header cell that parses as a number does not make a header (see <see cref="CsvMatrix.IsHeader"/>).
    /// </summary>
    public static CsvColumn Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string t = text.Trim();
        if (t.All(char.IsAsciiDigit))
        {
            return int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                ? At(index)
                : throw new ArgumentException($"Column index '{t}' is too large.", nameof(text));
        }

        return Named(t);
    }

    /// <summary>Parses a comma-separated list of selectors (<c>"a,b"</c>, <c>"0,1"</c>, <c>"x,3"</c>) with <see cref="Parse"/>.</summary>
    public static IReadOnlyList<CsvColumn> ParseList(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        return text.Split(',').Select(Parse).ToArray();
    }

    /// <inheritdoc/>
    public override string ToString() => Name is null ? $"index {Index}" : $"'{Name}'";
}
