using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Nalu.Gpu.Checkpoints;
using Xunit;

namespace Nalu.Gpu.Tests;

public sealed class SafeTensorsFileTests : IDisposable
{
    // xunit creates one instance per test, so every test gets its own directory.
    private readonly string _dir = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "nalu-safetensors-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    private static SafeTensor[] SampleTensors() =>
    [
        new("layer0.weight", [2, 3], [1f, -2.5f, 3.25f, -0f, float.MaxValue, float.Epsilon]),
        new("layer0.bias", [3], [0.1f, 0.2f, 0.3f]),
        new("step", [], [42f]),
        new("empty", [0, 4], []),
        new("ünïcödé \"quoted\" ✓", [1, 1, 2], [float.MinValue, 7f]),
    ];

    private static void AssertSameTensors(IReadOnlyList<SafeTensor> expected, IReadOnlyList<SafeTensor> actual)
    {
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            // Bitwise so that -0f and denormals must survive exactly.
            Assert.Equal(expected[i].Data.Select(BitConverter.SingleToInt32Bits), actual[i].Data.Select(BitConverter.SingleToInt32Bits));
        }
    }

    private static byte[] F32Bytes(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    /// <summary>Hand-builds a file: u64 LE header length, header (space-padded to 8), data.</summary>
    private static byte[] RawFile(byte[] header, byte[] data)
    {
        int padded = (header.Length + 7) & ~7;
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        header.CopyTo(file, 8);
        file.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(file, 8 + padded);
        return file;
    }

    private static byte[] RawFile(string headerJson, byte[] data) => RawFile(Encoding.UTF8.GetBytes(headerJson), data);

    private void AssertFormatError(byte[] fileBytes, params string[] fragments)
    {
        string path = PathFor("bad.safetensors");
        File.WriteAllBytes(path, fileBytes);
        var ex = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, ex.Message);
        foreach (string fragment in fragments)
        {
            Assert.Contains(fragment, ex.Message);
        }
    }

    private string[] TempFiles() => Directory.GetFiles(_dir, "*.tmp-*");

    [Fact]
    public void RoundTrip_PreservesTensorsOrderShapesBitsAndMetadata()
    {
        string path = PathFor("model.safetensors");
        SafeTensor[] tensors = SampleTensors();
        var metadata = new Dictionary<string, string> { ["format"] = "nalu", ["epoch"] = "7", ["note"] = "ünïcödé" };

        SafeTensorsFile.Write(path, tensors, metadata);
        var (readTensors, readMetadata) = SafeTensorsFile.Read(path);

        AssertSameTensors(tensors, readTensors);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), readMetadata.OrderBy(kv => kv.Key));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public void RoundTrip_NoTensorsNoMetadata()
    {
        string path = PathFor("empty.safetensors");
        SafeTensorsFile.Write(path, []);
        var (tensors, metadata) = SafeTensorsFile.Read(path);
        Assert.Empty(tensors);
        Assert.Empty(metadata);
    }

    [Fact]
    public void Write_ProducesSpecLayout()
    {
        string path = PathFor("layout.safetensors");
        SafeTensor[] tensors = SampleTensors();
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string> { ["k"] = "v" });
        byte[] file = File.ReadAllBytes(path);

        // 8-byte little-endian header length, header padded with spaces to a multiple of 8.
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0UL, headerLength % 8);
        byte[] header = file.AsSpan(8, (int)headerLength).ToArray();
        Assert.Equal((byte)'{', header[0]);
        string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(header);
        string trimmed = text.TrimEnd(' ');
        Assert.EndsWith("}", trimmed);
        Assert.True(text.Length - trimmed.Length < 8, "padding must be fewer than 8 spaces");

        using JsonDocument doc = JsonDocument.Parse(text);
        Assert.Equal("v", doc.RootElement.GetProperty("__metadata__").GetProperty("k").GetString());
        ReadOnlySpan<byte> data = file.AsSpan(8 + (int)headerLength);
        long offset = 0;
        foreach (SafeTensor tensor in tensors)
        {
            JsonElement entry = doc.RootElement.GetProperty(tensor.Name);
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            Assert.Equal(tensor.Shape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            long[] offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal([offset, offset + (tensor.Data.Length * 4)], offsets);
            Assert.Equal(F32Bytes(tensor.Data), data.Slice((int)offsets[0], (int)(offsets[1] - offsets[0])).ToArray());
            offset = offsets[1];
        }

        Assert.Equal(offset, data.Length); // no trailing bytes
    }

    [Fact]
    public void Write_OverwritesExistingFileAndLeavesNoTempFiles()
    {
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, [new SafeTensor("a", [1], [1f])]);
        SafeTensorsFile.Write(path, [new SafeTensor("b", [2], [2f, 3f])]);

        var (tensors, _) = SafeTensorsFile.Read(path);
        Assert.Equal("b", Assert.Single(tensors).Name);
        Assert.Empty(TempFiles());
    }

    public static TheoryData<string, SafeTensor[]> InvalidTensorSets => new()
    {
        { "w", [new SafeTensor("w", [2, 2], [1f, 2f, 3f])] },
        { "dup", [new SafeTensor("dup", [1], [1f]), new SafeTensor("dup", [1], [2f])] },
        { "null or empty", [new SafeTensor("", [1], [1f])] },
        { "__metadata__", [new SafeTensor("__metadata__", [1], [1f])] },
        { "neg", [new SafeTensor("neg", [-1, 2], [1f, 2f])] },
        { "nan", [new SafeTensor("ok", [1], [1f]), new SafeTensor("nan", [2], [1f, float.NaN])] },
        { "inf", [new SafeTensor("inf", [1], [float.PositiveInfinity])] },
    };

    [Theory]
    [MemberData(nameof(InvalidTensorSets))]
    public void Write_InvalidInput_ThrowsAndLeavesExistingFileIntact(string expectedInMessage, SafeTensor[] tensors)
    {
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, [new SafeTensor("good", [2], [1f, 2f])]);
        byte[] before = File.ReadAllBytes(path);

        var ex = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, tensors));

        Assert.Contains(expectedInMessage, ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public void Write_FailureAfterTempFileCreated_DeletesTempFile()
    {
        // A directory at the target path makes the final rename fail after the temp file was fully written.
        string path = PathFor("occupied");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "keep.txt"), "x");

        Assert.ThrowsAny<Exception>(() => SafeTensorsFile.Write(path, [new SafeTensor("a", [1], [1f])]));

        Assert.True(File.Exists(Path.Combine(path, "keep.txt")));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public void Read_MissingFile_ThrowsFileNotFoundNamingPath()
    {
        string path = PathFor("nope.safetensors");
        var ex = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, ex.Message);
        Assert.Equal(path, ex.FileName);
    }

    [Fact]
    public void Read_TruncatedAtEveryPosition_Throws()
    {
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, SampleTensors(), new Dictionary<string, string> { ["k"] = "v" });
        byte[] full = File.ReadAllBytes(path);

        // Every proper prefix must be rejected: inside the length prefix, the header, the padding, or the data.
        for (int cut = 0; cut < full.Length; cut++)
        {
            string truncated = PathFor($"cut-{cut}.safetensors");
            File.WriteAllBytes(truncated, full[..cut]);
            var ex = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Read(truncated));
            Assert.Contains(truncated, ex.Message);
        }
    }

    [Fact]
    public void Read_ShortFile_ReportsLength() => AssertFormatError([1, 2, 3], "3 bytes", "shorter than");

    [Fact]
    public void Read_TrailingGarbage_Throws()
    {
        byte[] file = RawFile("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32Bytes(1f, 2f));
        AssertFormatError(file, "trailing");
    }

    [Fact]
    public void Read_HeaderLengthBeyondFile_Throws()
    {
        byte[] file = RawFile("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(file, 64);
        AssertFormatError(file, "header length 64", "truncated");
    }

    [Fact]
    public void Read_AbsurdHeaderLength_Throws()
    {
        byte[] file = RawFile("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(file, 1UL << 40);
        AssertFormatError(file, "limit");
    }

    [Fact]
    public void Read_InvalidUtf8Header_Throws() =>
        AssertFormatError(RawFile([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'], []), "UTF-8");

    [Theory]
    [InlineData("""{"a":{"dtype":"F32",""", 0, "not valid JSON")]
    [InlineData("", 0, "not valid JSON")]
    [InlineData("[1,2]", 0, "JSON object")]
    [InlineData("""{"a":[1]}""", 0, "'a'")]
    [InlineData("""{"a":{"shape":[1],"data_offsets":[0,4]}}""", 1, "missing \"dtype\"")]
    [InlineData("""{"a":{"dtype":"F32","data_offsets":[0,4]}}""", 1, "missing \"shape\"")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1]}}""", 1, "missing \"data_offsets\"")]
    [InlineData("""{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""", 1, "unsupported dtype 'F16'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 1, "shape entry -1")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":["0",4]}}""", 1, "data_offsets")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 2, "needs 12")]
    [InlineData("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 2, "end before")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 3, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 3, "gap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 2, "extend past")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 2, "duplicate key 'a'")]
    [InlineData("""{"__metadata__":{"k":1}}""", 0, "must be a string")]
    public void Read_BadHeader_ThrowsWithPreciseMessage(string headerJson, int dataFloats, string expected) =>
        AssertFormatError(RawFile(headerJson, F32Bytes(new float[dataFloats])), expected);

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Read_NonFiniteValue_ThrowsNamingTensorAndIndex(float bad)
    {
        byte[] file = RawFile(
            """{"ok":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]}}""",
            F32Bytes(1f, 0f, 1f, bad, 3f));
        AssertFormatError(file, "tensor 'w'", "index 2");
    }

    [Fact]
    public void Read_ReturnsTensorsInDataOrderNotHeaderOrder()
    {
        byte[] file = RawFile(
            """{"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"__metadata__":{"k":"v"},"first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
            F32Bytes(1f, 2f));
        string path = PathFor("order.safetensors");
        File.WriteAllBytes(path, file);

        var (tensors, metadata) = SafeTensorsFile.Read(path);

        Assert.Equal(["first", "second"], tensors.Select(t => t.Name));
        Assert.Equal([1f, 2f], tensors.SelectMany(t => t.Data));
        Assert.Equal("v", metadata["k"]);
    }
}
