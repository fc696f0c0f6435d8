using Nalu.Gpu.Data;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// <see cref="CsvMatrix"/>: header rule, selection by name and index, round trips, and every malformed input as a
/// <see cref="DataFileException"/> whose message names the file, the line and the column.
/// </summary>
public sealed class CsvMatrixTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-csv-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string text, string name = "data.csv")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadsEveryColumnWithAHeader()
    {
        string path = Write("a,b,c\n1,2,3\n4.5,-6e-1,7\n");
        FloatMatrix m = CsvMatrix.Read(path);
        Assert.Equal((2, 3), (m.Rows, m.Columns));
        Assert.Equal(["a", "b", "c"], m.ColumnNames);
        Assert.Equal([1f, 2f, 3f, 4.5f, -0.6f, 7f], m.Values);
        Assert.Equal(-0.6f, m[1, 1]);
    }

    [Fact]
    public void SelectsInputsAndTargetsByNameAndByIndex()
    {
        string path = Write("id,a,b,c\nfirst,1,2,3\nsecond,4,5,6\n");
        FloatMatrix[] byName = CsvMatrix.ReadGroups(path, [["a", "b"], ["c"]]);
        FloatMatrix[] byIndex = CsvMatrix.ReadGroups(path, [[1, 2], [3]]);
        foreach (FloatMatrix[] groups in new[] { byName, byIndex })
        {
            Assert.Equal([1f, 2f, 4f, 5f], groups[0].Values);
            Assert.Equal(["a", "b"], groups[0].ColumnNames);
            Assert.Equal([3f, 6f], groups[1].Values);
            Assert.Equal(["c"], groups[1].ColumnNames);
            Assert.Equal(2, groups[1].Rows);
        }

        // Order of the selection is the order of the matrix's columns; the text column 'id' is never parsed.
        Assert.Equal([3f, 1f, 6f, 4f], CsvMatrix.Read(path, ["c", 1]).Values);
    }

    [Fact]
    public void HeaderlessFileIsSelectedByIndexAndNamesColumnsByIndex()
    {
        string path = Write("1,2,3\n4,5,6\n");
        FloatMatrix m = CsvMatrix.Read(path, [2, 0]);
        Assert.Equal([3f, 1f, 6f, 4f], m.Values);
        Assert.Equal(["2", "0"], m.ColumnNames);
    }

    [Fact]
    public void SkipsBlankAndCommentLinesAndCountsThemInLineNumbers()
    {
        string path = Write("# made by hand\n\nx,y\n  \n1,2\n# a note\n3,4\n\n5,oops\n");
        var e = Assert.Throws<DataFileException>(() => CsvMatrix.Read(path));
        Assert.Equal(9, e.Line);
        Assert.Contains("data.csv:9: column 2 ('y'): 'oops' is not a number", e.Message);
        Assert.Equal([1f, 2f, 3f, 4f], CsvMatrix.Read(Write("# c\n\nx,y\n1,2\n\n3,4\n", "ok.csv")).Values);
    }

    [Fact]
    public void QuotedCellsFollowRfc4180AndSpacesAreTrimmed()
    {
        string path = Write("\"mass, kg\",\"say \"\"hi\"\"\"\n \"1.5\" , 2 \n");
        FloatMatrix m = CsvMatrix.Read(path);
        Assert.Equal(["mass, kg", "say \"hi\""], m.ColumnNames);
        Assert.Equal([1.5f, 2f], m.Values);
    }

    [Theory]
    [InlineData(CsvHeader.Present, "1,2\n3,4\n", 1)]    // first line taken as names "1","2"
    [InlineData(CsvHeader.Absent, "a1,b1\n3,4\n", -1)]  // 'a1' is data and not a number
    public void HeaderOptionOverridesTheRule(CsvHeader header, string text, int expectedRows)
    {
        string path = Write(text);
        if (expectedRows > 0)
        {
            Assert.Equal(expectedRows, CsvMatrix.Read(path, options: new CsvReadOptions { Header = header }).Rows);
        }
        else
        {
            var e = Assert.Throws<DataFileException>(() => CsvMatrix.Read(path, options: new CsvReadOptions { Header = header }));
            Assert.Contains("data.csv:1: column 1: 'a1' is not a number", e.Message);
        }
    }

    [Fact]
    public void RoundTripsThroughWrite()
    {
        var m = new FloatMatrix([1f / 3f, -2.5e-20f, 3.4e38f, 0f, 7f, -1f], 3, 2, ["m,1", "r"]);
        string path = Path.Combine(_dir, "round.csv");
        CsvMatrix.Write(path, m);
        FloatMatrix back = CsvMatrix.Read(path);
        Assert.Equal(m.Values, back.Values);
        Assert.Equal(m.ColumnNames, back.ColumnNames);
    }

    /// <summary>
    /// An unnamed matrix (from a .npy file, or built without names) has the names "0", "1", …, which read back as a data row;
    /// it is written with the header c0, c1, … so the rows survive the round trip (a newcomer's walkthrough found 2 rows
    /// coming back as 3).
    /// </summary>
    [Fact]
    public void UnnamedMatrixRoundTripsWithItsRows()
    {
        var m = new FloatMatrix([3f, 4f, 5f, 6f], 2, 2);
        string path = Path.Combine(_dir, "unnamed.csv");
        CsvMatrix.Write(path, m);
        FloatMatrix back = CsvMatrix.Read(path);
        Assert.Equal(2, back.Rows);
        Assert.Equal(m.Values, back.Values);
        Assert.Equal(["c0", "c1"], back.ColumnNames);
        Assert.StartsWith("c0,c1\n", File.ReadAllText(path));
    }

    public static TheoryData<string, string[]?, int?, int?, string> Malformed => new()
    {
        // text, selection (null: all), line, column, message fragment
        { "a,b\n1,2\n3\n", null, 3, 2, "column 2 ('b'): 1 values, but line 1 has 2: column 2 is missing" },
        { "a,b\n1,2\n3,4,5\n", null, 3, 3, "column 3: 3 values, but line 1 has 2: column 3 is extra" },
        { "a,b\n1,2\n3,x\n", null, 3, 2, "column 2 ('b'): 'x' is not a number" },
        { "a,b\n1,\n", null, 2, 2, "column 2 ('b'): the cell is empty" },
        { "a,b\n1,NaN\n", null, 2, 2, "column 2 ('b'): 'NaN' is NaN" },
        { "a,b\n-Infinity,1\n", null, 2, 1, "column 1 ('a'): '-Infinity' is Infinity" },
        { "a,b\n1e39,1\n", null, 2, 1, "column 1 ('a'): '1e39' is outside the float range" },
        { "a,b\n1,2\n", ["a", "z"], 1, null, "no column named 'z'; the header has 'a' (column 1), 'b' (column 2)" },
        { "a,b\n1,2\n", ["a", "a"], 1, 1, "column 1 ('a'): the column is selected twice (as 'a' and as 'a')" },
        { "a,b\n1,2\n", ["b", "1"], 1, 2, "column 2 ('b'): the column is selected twice (as 'b' and as index 1)" },
        { "1,2\n3,4\n", ["a"], 1, null, "column 'a' is asked for by name, but the file has no header" },
        { "a,b\n1,2\n", ["2"], 1, 3, "column index 2 (column 3) does not exist; the file has 2 columns" },
        { "a,a\n1,2\n", null, 1, 2, "column 2 ('a'): the header repeats the name of column 1" },
        { "# nothing\n\n", null, null, null, "no data rows" },
        { "x,y\n", null, 1, null, "no data rows (only the header, on line 1)" },
        { "a,b\n1,1,5\n", null, 2, 3, "column 3: 3 values" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedInputNamesFileLineAndColumn(string text, string[]? columns, int? line, int? column, string fragment)
    {
        string path = Write(text, "bad-input.csv");
        var e = Assert.Throws<DataFileException>(() => CsvMatrix.Read(path, columns?.Select(CsvColumn.Parse).ToArray()));
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
        Assert.Contains(fragment, e.Message);
        if (line is not null)
        {
            Assert.Equal(line, e.Line);
            Assert.Contains($"bad-input.csv:{line}:", e.Message);
        }

        Assert.Equal(column, e.Column);
        if (column is not null)
            Assert.Contains($"column {column}", e.Message);
    }

    [Fact]
    public void EmptyFileAndMissingFile()
    {
        string empty = Write("", "empty.csv");
        var e = Assert.Throws<DataFileException>(() => CsvMatrix.Read(empty));
        Assert.Contains("empty.csv: the file is empty", e.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => CsvMatrix.Read(Path.Combine(_dir, "absent.csv")));
        Assert.Contains("absent.csv", missing.Message);
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,\"4\n5,6\n", 3, 2)]
    [InlineData("a,b\n1,2\n# he said \"hi\n5,6\n", 3, 1)]   // a quote in a comment would hide every later line
    [InlineData("a,b\n1,2\n3,4\"x\n", 3, 2)]
    public void UnterminatedQuoteNamesTheLineWhereItOpens(string text, int line, int column)
    {
        string path = Write(text);
        var e = Assert.Throws<DataFileException>(() => CsvMatrix.Read(path));
        Assert.Contains($"data.csv:{line}: column {column}: a quote is opened and never closed", e.Message);
        Assert.Equal((line, column), (e.Line, e.Column));
    }

    [Fact]
    public void ExpectedColumnsGivesTheReason()
    {
        string path = Write("1\n");
        var e = Assert.Throws<DataFileException>(() => CsvMatrix.Read(path, options: new CsvReadOptions { ExpectedColumns = 2, ExpectedColumnsReason = "the model takes 2 inputs" }));
        Assert.Equal("" + path + ":1: column 2: 1 values, but the model takes 2 inputs.", e.Message);
    }

    [Theory]
    [InlineData("x0,x1", true)]
    [InlineData("mass_1,r", true)]
    [InlineData("inf,2", false)]
    [InlineData("Infinity,b", false)]   // 'Infinity' parses as a number
    [InlineData("a,", false)]           // an empty cell has no letter
    [InlineData("1,2", false)]
    public void HeaderRule(string line, bool header) => Assert.Equal(header, CsvMatrix.IsHeader(line.Split(',')));

    [Fact]
    public void ColumnParseTakesDigitsAsIndices()
    {
        Assert.Equal(CsvColumn.At(3), CsvColumn.Parse(" 3 "));
        Assert.Equal(CsvColumn.Named("x3"), CsvColumn.Parse("x3"));
        Assert.Equal([CsvColumn.Named("a"), CsvColumn.At(0)], CsvColumn.ParseList("a,0"));
        Assert.Throws<ArgumentException>(() => CsvColumn.Parse("99999999999"));
    }
}
