namespace Nalu.Gpu.Data;

/// <summary>
/// Thrown by the data-file readers (<see cref="CsvMatrix"/>, <see cref="NpyFile"/>) when a file cannot be turned into
/// a float matrix. The message always names the file and says what is wrong; for a CSV it also names the 1-based line
/// and the column (1-based number, and the header's name when the file has one), as <c>file:line: column n ('name'): problem.</c>
/// </summary>
public sealed class DataFileException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> is the full message (file, place and problem).</summary>
    public DataFileException(string message, string filePath, int? line = null, int? column = null, string? columnName = null, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = filePath;
        Line = line;
        Column = column;
        ColumnName = columnName;
    }

    /// <summary>The file as the caller named it.</summary>
    public string FilePath { get; }

    /// <summary>1-based line of a text file, or null when the problem has no line (an empty file, a binary file).</summary>
    public int? Line { get; }

    /// <summary>1-based column number, or null when the problem is not in one column.</summary>
    public int? Column { get; }

    /// <summary>The header's name of <see cref="Column"/>, or null (no header, or no column).</summary>
    public string? ColumnName { get; }
}
