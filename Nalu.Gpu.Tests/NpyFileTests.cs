using System.Buffers.Binary;
using System.Text;
using Nalu.Gpu.Data;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary><see cref="NpyFile"/>: versions, dtypes, orders and shapes it reads, round trips, and every malformed file.</summary>
public sealed class NpyFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-npy-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Builds a .npy file the way NumPy lays one out: magic, version, header length, header, data.</summary>
    internal static byte[] Npy(string dict, byte[] data, int major = 1, bool newline = true)
    {
        string header = dict + (newline ? "\n" : "");
        byte[] text = major == 3 ? Encoding.UTF8.GetBytes(header) : Encoding.Latin1.GetBytes(header);
        int prefix = major == 1 ? 10 : 12;
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 };
        var length = new byte[prefix - 8];
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)text.Length);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)text.Length);
        bytes.AddRange(length);
        bytes.AddRange(text);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    internal static byte[] F4(params float[] v) => v.SelectMany(x => BitConverter.GetBytes(x)).ToArray();

    private static byte[] F8(params double[] v) => v.SelectMany(x => BitConverter.GetBytes(x)).ToArray();

    private string Save(byte[] bytes, string name = "data.npy")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void WriteThenReadRoundTripsExactly()
    {
        float[] values = [1f / 3f, -2.5e-20f, 3.4e38f, 0f, 7f, -1f];
        string path = Path.Combine(_dir, "round.npy");
        NpyFile.Write(path, values, 3, 2);
        FloatMatrix m = NpyFile.Read(path);
        Assert.Equal((3, 2), (m.Rows, m.Columns));
        Assert.Equal(values, m.Values);
        Assert.Equal(["0", "1"], m.ColumnNames);
        Assert.Equal(0, new FileInfo(path).Length % 4);
        Assert.Equal(0, (new FileInfo(path).Length - 24) % 64);   // data starts at a multiple of 64 bytes
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsEveryVersion(int major)
    {
        string path = Save(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", F4(1, 2, 3, 4), major));
        Assert.Equal([1f, 2f, 3f, 4f], NpyFile.Read(path).Values);
    }

    [Fact]
    public void ReadsFloat64Int32Int64AndOneDimension()
    {
        Assert.Equal([1.5f, -2f], NpyFile.Read(Save(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", F8(1.5, -2)), "f8.npy")).Values);
        FloatMatrix i4 = NpyFile.Read(Save(Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 3), }", [.. BitConverter.GetBytes(-7), .. BitConverter.GetBytes(0), .. BitConverter.GetBytes(9)]), "i4.npy"));
        Assert.Equal([-7f, 0f, 9f], i4.Values);
        FloatMatrix i8 = NpyFile.Read(Save(Npy("{\"descr\":\"<i8\",\"fortran_order\":False,\"shape\":(2,)}", [.. BitConverter.GetBytes(5L), .. BitConverter.GetBytes(-3L)]), "i8.npy"));
        Assert.Equal((2, 1), (i8.Rows, i8.Columns));
        Assert.Equal([5f, -3f], i8.Values);
    }

    [Fact]
    public void FortranOrderIsTransposedToRowMajor()
    {
        // The 2×3 matrix [[1,2,3],[4,5,6]] in column-major order is 1,4,2,5,3,6.
        string path = Save(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", F4(1, 4, 2, 5, 3, 6)));
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], NpyFile.Read(path).Values);
    }

    public static TheoryData<byte[], string> Malformed => new()
    {
        { Encoding.ASCII.GetBytes("PK\x03\x04 not numpy"), "not a NumPy .npy file" },
        { [0x93, (byte)'N', (byte)'U'], "not a NumPy .npy file" },
        { [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1], "truncated: the file ends inside the version bytes" },
        { [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 4, 0, 0, 0], "format version 4.0 is not supported" },
        { [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 200], "ends inside the header length" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", F4(1, 2, 3, 4))[..30], "truncated header" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", F4(1, 2, 3)), "truncated data: shape (2, 2) of <f4 needs 16 bytes, but the file has 12" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", F4(1, 2, 3, 4, 5)), "data length mismatch: shape (2, 2) of <f4 needs 16 bytes, but the file has 20" },
        { Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", F4(1)), "dtype '>f4' is big-endian" },
        { Npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", F4(1)), "dtype '<f2' is not supported" },
        { Npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", F4(1)), "dtype '|u1' is not supported" },
        { Npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", F4(1)), "structured dtypes are not supported" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), }", F4(1)), "has 3 dimensions" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", F4(1)), "has 0 dimensions" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2), }", []), "holds no values" },
        { Npy("{'descr': '<f4', 'fortran_order': False, }", F4(1)), "key 'shape' is missing" },
        { Npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", F4(1)), "key 'descr' appears twice" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", F4(1)), "unexpected key 'x'" },
        { Npy("{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,), }", F4(1)), "'fortran_order' must be True or False" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", F4(1)), "'shape' must be a tuple of non-negative integers" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }", F4(1)), "shape dimension 99999999999 is too large" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", F4(1)), "unexpected text after the dictionary" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", F4(1), newline: false), "the header ends inside the dictionary" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", F4(1, 2, float.NaN, 4)), "value at [1, 0] is NaN" },
        { Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", F4(1, float.PositiveInfinity, 3, 4)), "value at [1, 0] is Infinity" },
        { Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", F8(1, 1e300)), "value at [1, 0] is 1E+300, outside the float range" },
        { Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", [0xff, 0xfe, 0x00, 0x01], major: 3)[..12].Concat(new byte[] { 0xff, 0xfe }).ToArray(), "truncated header" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFileNamesTheFileAndTheProblem(byte[] bytes, string fragment)
    {
        string path = Save(bytes, "bad-array.npy");
        var e = Assert.Throws<DataFileException>(() => NpyFile.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void InvalidUtf8InAVersion3HeaderIsRefused()
    {
        byte[] bytes = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", F4(1), major: 3);
        bytes[13] = 0xff;   // inside the header text
        var e = Assert.Throws<DataFileException>(() => NpyFile.Read(Save(bytes)));
        Assert.Contains("not valid UTF-8", e.Message);
    }

    [Fact]
    public void WriteRefusesNonFiniteValuesAndLeavesNoFile()
    {
        string path = Path.Combine(_dir, "never.npy");
        Assert.Throws<ArgumentException>(() => NpyFile.Write(path, [1f, float.NaN], 1, 2));
        Assert.Throws<ArgumentException>(() => NpyFile.Write(path, [1f, 2f, 3f], 2, 2));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void MissingFile() =>
        Assert.Contains("absent.npy", Assert.Throws<FileNotFoundException>(() => NpyFile.Read(Path.Combine(_dir, "absent.npy"))).Message);
}
