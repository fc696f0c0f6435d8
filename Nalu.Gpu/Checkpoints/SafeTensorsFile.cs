using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Nalu.Gpu.Checkpoints;

/// <summary>
/// One named F32 tensor as stored in a safetensors file: <paramref name="Data"/> holds the
/// elements in row-major (C) order, so the last dimension of <paramref name="Shape"/> varies fastest.
/// <c>Data.Length</c> must equal the product of <paramref name="Shape"/>; the empty shape <c>[]</c>
/// is a scalar with exactly one element.
/// </summary>
/// <param name="Name">Unique tensor name (any non-empty string except <c>__metadata__</c>).</param>
/// <param name="Shape">Dimensions, outermost first; every dimension must be non-negative.</param>
/// <param name="Data">Row-major element values.</param>
public sealed record SafeTensor(string Name, int[] Shape, float[] Data);

/// <summary>Thrown by <see cref="SafeTensorsFile.Read"/> when a file is not a valid (F32-only) safetensors checkpoint.</summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> names the file and the precise problem.</summary>
    public CheckpointFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// Minimal reader/writer for the safetensors format (https://github.com/huggingface/safetensors), F32 tensors only.
/// </summary>
/// <remarks>
/// File layout:
/// <list type="number">
/// <item>8 bytes: little-endian <c>u64</c> header length <c>N</c>.</item>
/// <item><c>N</c> bytes: UTF-8 JSON object mapping each tensor name to
/// <c>{"dtype":"F32","shape":[...],"data_offsets":[begin,end]}</c>, plus an optional
/// <c>"__metadata__"</c> object of string-to-string pairs. The writer pads it with spaces so <c>N</c> is a
/// multiple of 8 (keeping the data buffer 8-byte aligned, as the reference implementation does).</item>
/// <item>The data buffer: each tensor's elements as little-endian IEEE-754 floats in row-major order.
/// <c>[begin, end)</c> is relative to the start of the data buffer; tensors are contiguous with no gaps
/// or overlaps, and the buffer ends exactly at the last tensor's <c>end</c>.</item>
/// </list>
/// </remarks>
public static class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";
    private const string F32 = "F32";

    /// <summary>Same cap as the reference implementation: a larger header means a corrupt length prefix.</summary>
    private const ulong MaxHeaderBytes = 100_000_000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes <paramref name="tensors"/> (in the given order, which is also their data-buffer order) and optional
    /// <paramref name="metadata"/> to <paramref name="path"/>. The write goes through <see cref="IO.SafeFile"/>: atomic for a
    /// regular file (a temporary file next to it, flushed, then renamed over it; on failure an existing file is left
    /// untouched), into the target of a symlink, and in place into a device or FIFO.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has a null, empty, duplicate or reserved name, a negative
    /// dimension, a data length that does not match its shape, or a non-finite value (such a file could not be read back).</exception>
    public static void Write(string path, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        WriteCore(path, tensors, metadata, allowNonFinite: false);

    /// <summary>
    /// As the public <c>Write</c>; <paramref name="allowNonFinite"/> lets NaN and infinities through, for a training
    /// checkpoint whose metadata says which models diverged (the only place <see cref="Checkpoint"/> accepts them).
    /// </summary>
    internal static void WriteCore(string path, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata, bool allowNonFinite)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        Validate(tensors, metadata, allowNonFinite);
        byte[] header = BuildHeader(tensors, metadata);

        IO.SafeFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (SafeTensor tensor in tensors)
                WriteLittleEndian(stream, tensor.Data);
        });
    }

    /// <summary>
    /// Reads and fully validates a safetensors file. Tensors are returned in data-buffer order (ascending
    /// <c>data_offsets</c>), which for files written by <see cref="Write"/> is the order they were written in.
    /// Metadata is empty when the file has no <c>__metadata__</c> entry.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file exists at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is truncated, corrupt, uses a dtype other than F32,
    /// has an inconsistent layout, or contains NaN/Infinity; the message names the file and the problem.</exception>
    public static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path) =>
        ReadCore(path, allowNonFinite: false);

    /// <summary>As the public <c>Read</c>; with <paramref name="allowNonFinite"/> the caller checks non-finite values itself.</summary>
    internal static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadCore(string path, bool allowNonFinite)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint file '{path}' does not exist.", path);
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw Format(path, $"file is {fileLength} bytes long, shorter than the 8-byte header length prefix");
        }

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw Format(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (corrupt length prefix?)");
        }

        if (headerLength > (ulong)(fileLength - 8))
        {
            throw Format(path, $"header length {headerLength} exceeds the {fileLength - 8} bytes after the length prefix (truncated file?)");
        }

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        (List<Entry> entries, Dictionary<string, string> metadata) = ParseHeader(path, headerBytes);
        long dataLength = fileLength - 8 - (long)headerLength;
        List<Entry> ordered = CheckLayout(path, entries, dataLength);

        // The layout check proved the entries tile the data buffer from 0 to its end, so we can stream them in order.
        var tensors = new List<SafeTensor>(ordered.Count);
        foreach (Entry entry in ordered)
        {
            var data = new float[entry.ElementCount];
            stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> bits = MemoryMarshal.Cast<float, int>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(bits, bits);
            }

            int bad = allowNonFinite ? -1 : IndexOfNonFinite(data);
            if (bad >= 0)
            {
                throw Format(path, $"tensor '{entry.Name}' has non-finite value {data[bad]} at flat index {bad}");
            }

            tensors.Add(new SafeTensor(entry.Name, entry.Shape, data));
        }

        return (tensors, metadata);
    }

    private readonly record struct Entry(string Name, int[] Shape, int ElementCount, long Begin, long End);

    private static void Validate(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata, bool allowNonFinite)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int t = 0; t < tensors.Count; t++)
        {
            SafeTensor tensor = tensors[t] ?? throw new ArgumentException($"Tensor at index {t} is null.", nameof(tensors));
            string label = tensor.Name is null ? $"at index {t}" : $"'{tensor.Name}'";
            if (string.IsNullOrEmpty(tensor.Name))
            {
                throw new ArgumentException($"Tensor {label} has a null or empty name.", nameof(tensors));
            }

            if (tensor.Name == MetadataKey)
            {
                throw new ArgumentException($"Tensor name '{MetadataKey}' is reserved for file metadata.", nameof(tensors));
            }

            if (!names.Add(tensor.Name))
            {
                throw new ArgumentException($"Tensor name '{tensor.Name}' appears more than once.", nameof(tensors));
            }

            if (tensor.Shape is null || tensor.Data is null)
            {
                throw new ArgumentException($"Tensor {label} has a null shape or data array.", nameof(tensors));
            }

            if (tensor.Shape.Any(d => d < 0))
            {
                throw new ArgumentException($"Tensor {label} has a negative dimension in shape [{string.Join(", ", tensor.Shape)}].", nameof(tensors));
            }

            long expected = ElementCount(tensor.Shape);
            if (expected != tensor.Data.Length)
            {
                string count = expected < 0 ? "more than an array can hold" : expected.ToString();
                throw new ArgumentException(
                    $"Tensor {label} has {tensor.Data.Length} elements but shape [{string.Join(", ", tensor.Shape)}] needs {count}.", nameof(tensors));
            }

            // Read rejects non-finite values, so writing them would silently replace a good checkpoint with an unreadable one.
            int bad = allowNonFinite ? -1 : IndexOfNonFinite(tensor.Data);
            if (bad >= 0)
            {
                throw new ArgumentException($"Tensor {label} has non-finite value {tensor.Data[bad]} at flat index {bad}.", nameof(tensors));
            }
        }

        if (metadata is not null)
        {
            foreach ((string key, string value) in metadata)
            {
                if (value is null)
                {
                    throw new ArgumentException($"Metadata value for key '{key}' is null; safetensors metadata is string-to-string.", nameof(metadata));
                }
            }
        }
    }

    private static byte[] BuildHeader(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach ((string key, string value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (SafeTensor tensor in tensors)
            {
                long end = offset + ((long)tensor.Data.Length * sizeof(float));
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", F32);
                json.WriteStartArray("shape");
                foreach (int dim in tensor.Shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }

            json.WriteEndObject();
        }

        // Pad with spaces (valid trailing JSON whitespace) so the data buffer starts 8-byte aligned.
        var header = new byte[(buffer.WrittenCount + 7) & ~7];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteLittleEndian(Stream stream, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }

        // Big-endian host: the format is little-endian, so byte-swap a copy rather than the caller's array.
        var swapped = new int[data.Length];
        BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<float, int>(data.AsSpan()), swapped);
        stream.Write(MemoryMarshal.AsBytes(swapped.AsSpan()));
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] headerBytes)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(headerBytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw Format(path, "header is not valid UTF-8", ex);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw Format(path, $"header is not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Format(path, $"header must be a JSON object but is {root.ValueKind}");
            }

            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                // JsonDocument keeps duplicate keys; reject them instead of guessing which one is meant.
                if (!seen.Add(property.Name))
                {
                    throw Format(path, $"header has duplicate key '{property.Name}'");
                }

                if (property.Name == MetadataKey)
                {
                    ParseMetadata(path, property.Value, metadata);
                }
                else
                {
                    entries.Add(ParseEntry(path, property.Name, property.Value));
                }
            }

            return (entries, metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Format(path, $"'{MetadataKey}' must be a JSON object but is {value.ValueKind}");
        }

        foreach (JsonProperty item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Format(path, $"'{MetadataKey}' value for key '{item.Name}' must be a string but is {item.Value.ValueKind}");
            }

            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw Format(path, $"'{MetadataKey}' has duplicate key '{item.Name}'");
            }
        }
    }

    private static Entry ParseEntry(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Format(path, $"tensor '{name}': entry must be a JSON object but is {value.ValueKind}");
        }

        JsonElement dtype = Require(path, name, value, "dtype", JsonValueKind.String);
        if (dtype.GetString() != F32)
        {
            throw Format(path, $"tensor '{name}': unsupported dtype '{dtype.GetString()}' (only {F32} is supported)");
        }

        JsonElement shapeJson = Require(path, name, value, "shape", JsonValueKind.Array);
        var shape = new int[shapeJson.GetArrayLength()];
        int i = 0;
        foreach (JsonElement dim in shapeJson.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out shape[i]) || shape[i] < 0)
            {
                throw Format(path, $"tensor '{name}': shape entry {dim.GetRawText()} is not a non-negative 32-bit integer");
            }

            i++;
        }

        long elements = ElementCount(shape);
        if (elements < 0)
        {
            throw Format(path, $"tensor '{name}': shape [{string.Join(", ", shape)}] has more elements than an array can hold");
        }

        JsonElement offsets = Require(path, name, value, "data_offsets", JsonValueKind.Array);
        long begin = -1, end = -1;
        if (offsets.GetArrayLength() != 2
            || offsets[0].ValueKind != JsonValueKind.Number || offsets[1].ValueKind != JsonValueKind.Number
            || !offsets[0].TryGetInt64(out begin) || !offsets[1].TryGetInt64(out end) || begin < 0 || end < 0)
        {
            throw Format(path, $"tensor '{name}': data_offsets {offsets.GetRawText()} is not a pair of non-negative integers");
        }

        if (end < begin)
        {
            throw Format(path, $"tensor '{name}': data_offsets [{begin}, {end}] end before they begin");
        }

        if (end - begin != elements * sizeof(float))
        {
            throw Format(path,
                $"tensor '{name}': data_offsets [{begin}, {end}] span {end - begin} bytes but F32 shape [{string.Join(", ", shape)}] needs {elements * sizeof(float)}");
        }

        return new Entry(name, shape, (int)elements, begin, end);
    }

    private static JsonElement Require(string path, string name, JsonElement entry, string field, JsonValueKind kind)
    {
        if (!entry.TryGetProperty(field, out JsonElement value))
        {
            throw Format(path, $"tensor '{name}': entry is missing \"{field}\"");
        }

        if (value.ValueKind != kind)
        {
            throw Format(path, $"tensor '{name}': \"{field}\" must be {kind} but is {value.ValueKind}");
        }

        return value;
    }

    /// <summary>Checks that the entries tile the data buffer exactly; returns them in data-buffer order.</summary>
    private static List<Entry> CheckLayout(string path, List<Entry> entries, long dataLength)
    {
        // OrderBy is stable; ordering by End too puts zero-length tensors before a tensor starting at the same offset.
        List<Entry> ordered = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long expected = 0;
        string previous = "the start of the data buffer";
        foreach (Entry entry in ordered)
        {
            if (entry.Begin < expected)
            {
                throw Format(path, $"tensor '{entry.Name}' data_offsets [{entry.Begin}, {entry.End}] overlap {previous}, which ends at {expected}");
            }

            if (entry.Begin > expected)
            {
                throw Format(path, $"tensor '{entry.Name}' data_offsets [{entry.Begin}, {entry.End}] leave a gap after {previous}, which ends at {expected}");
            }

            if (entry.End > dataLength)
            {
                throw Format(path, $"tensor '{entry.Name}' data_offsets [{entry.Begin}, {entry.End}] extend past the {dataLength}-byte data buffer (truncated file?)");
            }

            expected = entry.End;
            previous = $"tensor '{entry.Name}'";
        }

        if (expected != dataLength)
        {
            throw Format(path, $"data buffer is {dataLength} bytes but the tensors end at {expected} ({dataLength - expected} trailing bytes)");
        }

        return ordered;
    }

    /// <summary>Product of non-negative dimensions (1 for a scalar), or -1 if no .NET array could hold that many elements.</summary>
    private static long ElementCount(int[] shape)
    {
        if (shape.Contains(0))
        {
            return 0;
        }

        long count = 1;
        foreach (int dim in shape)
        {
            // count stays below 2^31 before each step, so the product cannot overflow a long.
            count *= dim;
            if (count > Array.MaxLength)
            {
                return -1;
            }
        }

        return count;
    }

    internal static int IndexOfNonFinite(ReadOnlySpan<float> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                return i;
            }
        }

        return -1;
    }

    internal static CheckpointFormatException Format(string path, string problem, Exception? inner = null) =>
        new($"Invalid safetensors checkpoint '{path}': {problem}.", inner);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
