namespace Nalu.Gpu.Data;

/// <summary>
/// A dense float matrix read from a data file: <see cref="Values"/> holds <see cref="Rows"/> × <see cref="Columns"/>
/// values in row-major order (element (r, c) is <c>Values[r * Columns + c]</c>), and <see cref="ColumnNames"/> names
/// each column: the CSV header's names, or the 0-based column index as text ("0", "1", …) for a file without one.
/// Every value is finite.
/// </summary>
public sealed class FloatMatrix
{
    /// <summary>Wraps <paramref name="values"/> (not copied).</summary>
    /// <exception cref="ArgumentException">The lengths disagree, a dimension is not positive, or a value is NaN or infinite.</exception>
    public FloatMatrix(float[] values, int rows, int columns, IReadOnlyList<string>? columnNames = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if ((long)rows * columns != values.Length)
            throw new ArgumentException($"{values.Length} values do not make a {rows} × {columns} matrix.", nameof(values));
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"Value at row {i / columns}, column {i % columns} (0-based) is {values[i]}; only finite values are allowed.", nameof(values));
        }

        columnNames ??= Enumerable.Range(0, columns).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (columnNames.Count != columns)
            throw new ArgumentException($"{columnNames.Count} column names for {columns} columns.", nameof(columnNames));
        Values = values;
        Rows = rows;
        Columns = columns;
        ColumnNames = columnNames;
    }

    /// <summary>Row-major values, <c>Rows * Columns</c> of them.</summary>
    public float[] Values { get; }

    /// <summary>Number of rows (samples).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (features).</summary>
    public int Columns { get; }

    /// <summary>One name per column (see the class summary).</summary>
    public IReadOnlyList<string> ColumnNames { get; }

    /// <summary>Element (<paramref name="row"/>, <paramref name="column"/>), both 0-based.</summary>
    public float this[int row, int column]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(row);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
            ArgumentOutOfRangeException.ThrowIfNegative(column);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, Columns);
            return Values[(row * Columns) + column];
        }
    }
}
