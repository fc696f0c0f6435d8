using System.Globalization;
using System.Text;
using nietras.SeparatedValues;

namespace Nalu.Gpu.Data;

/// <summary>Whether the first significant line of a CSV is a header.</summary>
public enum CsvHeader
{
    /// <summary>A header only when none of its cells parses as a number and each has a letter (<see cref="CsvMatrix.IsHeader"/>).</summary>
    Auto,

    /// <summary>Always a header; its names must be non-empty and distinct.</summary>
    Present,

    /// <summary>Never a header: every line is data, and columns can only be selected by index.</summary>
    Absent,
}

/// <summary>Options of <see cref="CsvMatrix"/>; the defaults read any comma-separated file with an optional header.</summary>
public sealed record CsvReadOptions
{
    /// <summary>How the first significant line is treated (default <see cref="CsvHeader.Auto"/>).</summary>
    public CsvHeader Header { get; init; } = CsvHeader.Auto;

    /// <summary>When set, the file must have exactly this many columns (checked on its first line, header or data).</summary>
    public int? ExpectedColumns { get; init; }

    /// <summary>Says why <see cref="ExpectedColumns"/> is required, for the message (e.g. "the model takes 2 inputs").</summary>
    public string? ExpectedColumnsReason { get; init; }
}

/// <summary>
/// Reads a CSV file into float matrices, strictly: every problem is a <see cref="DataFileException"/> whose message names
/// the file, the 1-based line and the column (number, and header name when there is a header).
/// </summary>
/// <remarks>
/// <para>Parsing is RFC 4180 by <c>Sep</c> (nietras.Sep): comma separator, <c>"…"</c> quoting with <c>""</c> for a quote
/// (a quoted cell may hold commas and line breaks; a quoted number such as <c>"1.5"</c> is the number 1.5), spaces around
/// a cell are ignored. Numbers use the invariant culture (<c>1.5</c>, <c>-2e-3</c>; never <c>1,5</c>).</para>
/// <para>Blank lines (only whitespace) and lines whose first non-blank character is <c>#</c> are skipped anywhere in the
/// file, and they keep their place in the line count; a quote inside a comment line is still a quote to the parser.</para>
/// <para>Rejected, each with its line and column: a row whose cell count differs from the first row's (ragged), a
/// selected cell that is empty or not a number, NaN or ±Infinity, a number outside the float range (e.g. <c>1e39</c>),
/// an unknown column name, an index past the last column, a column selected twice (also across the groups of
/// <see cref="ReadGroups"/>), a column asked for by name in a file without a header, duplicate or empty header names,
/// an unterminated quote, and a file with no data rows. Unselected columns may hold anything (text labels, ids).</para>
/// </remarks>
public static class CsvMatrix
{
    /// <summary>
    /// Reads the <paramref name="columns"/> (all of them when null) of every data row of the CSV at <paramref name="path"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">The file is malformed (see the class remarks); the message names file, line and column.</exception>
    public static FloatMatrix Read(string path, IReadOnlyList<CsvColumn>? columns = null, CsvReadOptions? options = null) =>
        ReadGroups(path, columns is null ? [] : [columns], options)[0];

    /// <summary>
    /// Reads several column groups of one file in one pass, e.g. inputs <c>["a", "b"]</c> and targets <c>["c"]</c>: one
    /// matrix per group, with the same rows. A column may appear in at most one group, once.
    /// </summary>
    /// <param name="path">The CSV file.</param>
    /// <param name="groups">The column groups; an empty list means one group of every column.</param>
    /// <param name="options">Header rule and expected width; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="DataFileException">The file is malformed or a selection does not fit it.</exception>
    public static FloatMatrix[] ReadGroups(string path, IReadOnlyList<IReadOnlyList<CsvColumn>> groups, CsvReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(groups);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        if (new FileInfo(path).Length == 0)
            throw new DataFileException($"{path}: the file is empty (no header and no data rows).", path);
        return Parse(path, groups, options ?? new CsvReadOptions(), () => Sep.New(',').Reader(Configure).FromFile(path));
    }

    /// <summary>Reads CSV <paramref name="text"/> as if it were the file <paramref name="name"/> (tests and in-memory data).</summary>
    internal static FloatMatrix[] ReadText(string text, string name, IReadOnlyList<IReadOnlyList<CsvColumn>> groups, CsvReadOptions? options = null)
    {
        if (text.Length == 0)
            throw new DataFileException($"{name}: the file is empty (no header and no data rows).", name);
        return Parse(name, groups, options ?? new CsvReadOptions(), () => Sep.New(',').Reader(Configure).FromText(text));
    }

    /// <summary>
    /// The header rule: a first line is a header only when it cannot be data, i.e. no cell parses as a number and every
    /// cell has a letter. So <c>x0,x1</c> is a header, while <c>inf,2</c>, <c>0x10,2</c> or <c>a,</c> are data rows that
    /// then fail with their line and column instead of being dropped.
    /// </summary>
    public static bool IsHeader(IReadOnlyList<string> cells) =>
        cells.Count > 0 && cells.All(c => !float.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _) && c.Any(char.IsLetter));

    /// <summary>
    /// Writes <paramref name="matrix"/> as a CSV with a header of its column names (quoted when needed) and every value in
    /// round-trip form, through <see cref="IO.SafeFile"/> (atomic for a regular file). A name that <see cref="Read"/> would
    /// not take for a header cell (a number, or no letter: the default names of an unnamed matrix, "0", "1", …) is written
    /// as <c>c</c> followed by the column's index, so the file reads back with the same rows.
    /// </summary>
    public static void Write(string path, FloatMatrix matrix)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(matrix);
        var text = new StringBuilder();
        var names = matrix.ColumnNames.Select((name, c) => IsHeader([name]) ? name : $"c{c}");
        text.AppendJoin(',', names.Select(Quote)).Append('\n');
        for (int r = 0; r < matrix.Rows; r++)
        {
            for (int c = 0; c < matrix.Columns; c++)
            {
                if (c > 0)
                    text.Append(',');
                text.Append(matrix.Values[(r * matrix.Columns) + c].ToString("R", CultureInfo.InvariantCulture));
            }

            text.Append('\n');
        }

        IO.SafeFile.WriteAllText(path, text.ToString());
    }

    private static string Quote(string name) =>
        name.IndexOfAny([',', '"', '\n', '\r']) >= 0 || name != name.Trim() ? "\"" + name.Replace("\"", "\"\"") + "\"" : name;

    private static SepReaderOptions Configure(SepReaderOptions o) => o with
    {
        HasHeader = false,                 // the header rule is ours (IsHeader), so Sep sees every line as a row
        DisableColCountCheck = true,       // ragged rows are reported by us, with the column that is missing or extra
        Unescape = true,
        Trim = SepTrim.All,
        CultureInfo = CultureInfo.InvariantCulture,
    };

    private static FloatMatrix[] Parse(string path, IReadOnlyList<IReadOnlyList<CsvColumn>> groups, CsvReadOptions options, Func<SepReader> open)
    {
        string[]? names = null;          // header names, or null when the file has none
        int width = -1, firstLine = 0;
        int[][]? selected = null;         // per group, the 0-based column indices
        List<float>[]? values = null;
        int rows = 0, line = 0;
        try
        {
            using SepReader reader = open();
            foreach (SepReader.Row row in reader)
            {
                // Sep 0.17.1 reports LineNumberFrom = 2 for the first row (its LineNumberToExcl, 2, is right).
                line = row.RowIndex == 0 ? 1 : row.LineNumberFrom;
                ReadOnlySpan<char> whole = row.Span.Trim();

                // An unclosed quote makes Sep swallow the rest of the file into one cell (even inside a comment line).
                if (whole.Count('"') % 2 != 0)
                {
                    int lastLine = row.LineNumberToExcl - 1;
                    throw Error(path, line, row.ColCount, null,
                        $"a quote is opened and never closed (lines {line} to {Math.Max(line, lastLine)} would be one cell); double a quote inside a quoted cell (\"\")");
                }

                if (whole.Length == 0 || whole[0] == '#')
                    continue;
                if (width < 0)
                {
                    width = row.ColCount;
                    firstLine = line;
                    string[] cells = new string[width];
                    for (int c = 0; c < width; c++)
                        cells[c] = row[c].ToString().Trim();
                    bool header = options.Header switch
                    {
                        CsvHeader.Present => true,
                        CsvHeader.Absent => false,
                        _ => IsHeader(cells),
                    };
                    if (options.ExpectedColumns is int expected && expected != width)
                    {
                        string reason = options.ExpectedColumnsReason ?? $"{expected} columns are expected";
                        throw Error(path, line, Math.Min(width, expected) + 1, null, $"{width} values, but {reason}");
                    }

                    if (header)
                        names = CheckHeader(path, line, cells);
                    selected = Resolve(path, line, groups, names, width, header);
                    values = selected.Select(_ => new List<float>()).ToArray();
                    if (header)
                        continue;
                }

                if (row.ColCount != width)
                {
                    int column = Math.Min(row.ColCount, width) + 1;
                    string problem = options.ExpectedColumns is not null
                        ? $"{row.ColCount} values, but {options.ExpectedColumnsReason ?? $"{width} columns are expected"}"
                        : row.ColCount < width
                        ? $"{row.ColCount} values, but line {firstLine} has {width}: column {column} is missing"
                        : $"{row.ColCount} values, but line {firstLine} has {width}: column {column} is extra";
                    throw Error(path, line, column, row.ColCount < width ? names?[column - 1] : null, problem);
                }

                for (int g = 0; g < selected!.Length; g++)
                {
                    foreach (int c in selected[g])
                        values![g].Add(ParseCell(path, line, c, names, row[c].Span));
                }

                rows++;
            }
        }
        catch (Exception e) when (e is not DataFileException and (InvalidDataException or ArgumentException or FormatException or NotSupportedException or IndexOutOfRangeException))
        {
            // Sep reports an unterminated quote or an over-long row this way.
            int at = line + 1;
            throw new DataFileException($"{path}:{at}: cannot parse the CSV after line {line} ({e.Message.Trim().TrimEnd('.')}).", path, at, inner: e);
        }

        if (width < 0)
            throw new DataFileException($"{path}: no data rows (the file has only blank or comment lines).", path);
        if (rows == 0)
            throw new DataFileException($"{path}:{firstLine}: no data rows (only the header, on line {firstLine}).", path, firstLine);
        var result = new FloatMatrix[selected!.Length];
        for (int g = 0; g < result.Length; g++)
        {
            string[] groupNames = selected[g].Select(c => names?[c] ?? c.ToString(CultureInfo.InvariantCulture)).ToArray();
            result[g] = new FloatMatrix(values![g].ToArray(), rows, selected[g].Length, groupNames);
        }

        return result;
    }

    private static string[] CheckHeader(string path, int line, string[] cells)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < cells.Length; c++)
        {
            if (cells[c].Length == 0)
                throw Error(path, line, c + 1, null, "the header has an empty column name");
            if (!seen.TryAdd(cells[c], c))
                throw Error(path, line, c + 1, cells[c], $"the header repeats the name of column {seen[cells[c]] + 1}");
        }

        return cells;
    }

    private static int[][] Resolve(string path, int line, IReadOnlyList<IReadOnlyList<CsvColumn>> groups, string[]? names, int width, bool header)
    {
        if (groups.Count == 0)
            return [Enumerable.Range(0, width).ToArray()];
        var taken = new Dictionary<int, CsvColumn>();
        var result = new int[groups.Count][];
        for (int g = 0; g < groups.Count; g++)
        {
            IReadOnlyList<CsvColumn> group = groups[g] ?? throw new ArgumentException($"Column group {g} is null.", nameof(groups));
            if (group.Count == 0)
                throw new ArgumentException($"Column group {g} selects no column.", nameof(groups));
            result[g] = new int[group.Count];
            for (int i = 0; i < group.Count; i++)
            {
                CsvColumn column = group[i];
                int index;
                if (column.Name is { } name)
                {
                    if (names is null)
                    {
                        string why = header ? "" : $" (line {line} is data: a header has a letter in every cell and no number)";
                        throw new DataFileException(
                            $"{path}:{line}: column '{name}' is asked for by name, but the file has no header{why}; select it by 0-based index instead.", path, line, null, name);
                    }

                    index = Array.IndexOf(names, name);
                    if (index < 0)
                    {
                        throw new DataFileException(
                            $"{path}:{line}: no column named '{name}'; the header has {string.Join(", ", names.Select((n, k) => $"'{n}' (column {k + 1})"))}.", path, line, null, name);
                    }
                }
                else
                {
                    index = column.Index;
                    if (index >= width)
                    {
                        throw new DataFileException(
                            $"{path}:{line}: column index {index} (column {index + 1}) does not exist; the file has {width} column{(width == 1 ? "" : "s")} (indices 0 to {width - 1}).",
                            path, line, index + 1);
                    }
                }

                if (!taken.TryAdd(index, column))
                {
                    throw Error(path, line, index + 1, names?[index],
                        $"the column is selected twice (as {taken[index]} and as {column})");
                }

                result[g][i] = index;
            }
        }

        return result;
    }

    private static float ParseCell(string path, int line, int c, string[]? names, ReadOnlySpan<char> cell)
    {
        cell = cell.Trim();
        if (float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
        {
            if (float.IsFinite(v))
                return v;
            string text = Shorten(cell);
            string problem = double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                ? $"'{text}' is outside the float range (±3.4e38)"
                : $"'{text}' is {(float.IsNaN(v) ? "NaN" : "Infinity")}; only finite values are accepted";
            throw Error(path, line, c + 1, names?[c], problem);
        }

        throw Error(path, line, c + 1, names?[c], cell.Length == 0 ? "the cell is empty; a number is needed" : $"'{Shorten(cell)}' is not a number");
    }

    private static string Shorten(ReadOnlySpan<char> cell) => cell.Length <= 40 ? cell.ToString() : cell[..40].ToString() + "…";

    private static DataFileException Error(string path, int line, int column, string? name, string problem) =>
        new($"{path}:{line}: column {column}{(name is null ? "" : $" ('{name}')")}: {problem}.", path, line, column, name);
}
