using System.Diagnostics;
using System.Text;
using CsCheck;
using Nalu.Gpu.Checkpoints;
using Nalu.Gpu.Data;
using Nalu.Gpu.Devices;
using Nalu.Gpu.Kernels;
using Nalu.Gpu.Models;
using Nalu.Gpu.Tasks;
using Xunit;

namespace Nalu.Gpu.Tests;

/// <summary>
/// Property-based fuzzing (CsCheck) of every reader of user files: a valid file, mutated 1 to 4 times (bit flips,
/// deletions, insertions of tokens that matter to the format, duplications, truncation), must either read or fail with
/// the reader's documented exception (<see cref="DataFileException"/>, <see cref="CheckpointFormatException"/>),
/// never with any other exception.
/// </summary>
/// <remarks>
/// <para><c>NALU_FUZZ_ITERATIONS</c> sets the mutations per reader (default 1,000; CI runs the default). CsCheck draws a
/// fresh seed each run and prints it, with the shrunk failing input, when a property fails; set
/// <c>NALU_FUZZ_SEED</c> to that seed to replay it first. <c>NALU_FUZZ_THREADS</c> sets CsCheck's threads
/// (default: one per core).</para>
/// </remarks>
public sealed class ReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "nalu-fuzz-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static long Iterations =>
        long.TryParse(Environment.GetEnvironmentVariable("NALU_FUZZ_ITERATIONS"), out long n) && n > 0 ? n : 1_000;

    private static string? Seed => Environment.GetEnvironmentVariable("NALU_FUZZ_SEED") is { Length: > 0 } s ? s : null;

    private static int Threads =>
        int.TryParse(Environment.GetEnvironmentVariable("NALU_FUZZ_THREADS"), out int n) && n > 0 ? n : -1;

    /// <summary>Inserted or overwritten by mutations: the bytes each format's parser decides on.</summary>
    private static readonly byte[][] Tokens = new[]
    {
        "NaN", "Infinity", "-Infinity", "1e39", "-0", "1.5", "\"", "\"\"", ",", "\n", "\r\n", "\r", "#", " ", "\t", "x", "",
        "\0", "True", "False", "(", ")", "'", ",)", "<f8", ">f4", "<i8", "<f2", "{", "}", ":", "99999999999", "4294967296",
        "[", "]", "\"F32\"", "\"F64\"", "\"data_offsets\"", "\"shape\"", "-1", "0", "\u00e9", "\uFFFD", "\"__metadata__\"",
        "null", "[1e308]", "\"nac\"", "\"inputs\":2147483647",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    private readonly record struct Mutation(int Kind, int Position, int Length, int Token, byte Value);

    private static readonly Gen<Mutation> OneMutation = Gen.Select(Gen.Int[0, 6], Gen.Int[0, int.MaxValue], Gen.Int[1, 24], Gen.Int[0, Tokens.Length - 1], Gen.Byte,
        (kind, position, length, token, value) => new Mutation(kind, position, length, token, value));

    private static Gen<(int Base, Mutation[] Mutations)> Plans(int bases) =>
        Gen.Select(Gen.Int[0, bases - 1], OneMutation.Array[1, 4]);

    private static byte[] Mutate(byte[] original, Mutation[] mutations)
    {
        var bytes = new List<byte>(original);
        foreach (Mutation m in mutations)
        {
            int at = bytes.Count == 0 ? 0 : m.Position % (bytes.Count + 1);
            int length = Math.Min(m.Length, bytes.Count - Math.Min(at, bytes.Count));
            byte[] token = Tokens[m.Token];
            switch (m.Kind)
            {
                case 0 when at < bytes.Count:   // flip one bit
                    bytes[at] ^= (byte)(1 << (m.Value & 7));
                    break;
                case 1 when at < bytes.Count:   // any byte
                    bytes[at] = m.Value;
                    break;
                case 2:                         // delete a run
                    bytes.RemoveRange(at, length);
                    break;
                case 3:                         // insert a token
                    bytes.InsertRange(at, token);
                    break;
                case 4:                         // duplicate a run
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                case 5:                         // truncate
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:                        // overwrite with a token
                    for (int i = 0; i < token.Length && at + i < bytes.Count; i++)
                        bytes[at + i] = token[i];
                    break;
            }
        }

        return bytes.ToArray();
    }

    private void Run(string name, Gen<(int Base, Mutation[] Mutations)> plans, byte[][] bases, Action<int, byte[]> read, Func<Exception, bool> documented)
    {
        var stopwatch = Stopwatch.StartNew();
        int ok = 0, refused = 0;
        plans.Sample(plan =>
        {
            byte[] bytes = Mutate(bases[plan.Base], plan.Mutations);
            try
            {
                read(plan.Base, bytes);
                Interlocked.Increment(ref ok);
            }
            catch (Exception e) when (documented(e))
            {
                Interlocked.Increment(ref refused);
            }
        },
        writeLine: output.WriteLine, seed: Seed, iter: Iterations, threads: Threads,
        print: plan => $"base {plan.Base}, mutations [{string.Join("; ", plan.Mutations)}], bytes: {Convert.ToBase64String(Mutate(bases[plan.Base], plan.Mutations))}");
        output.WriteLine($"{name}: {Iterations} mutations in {stopwatch.Elapsed.TotalSeconds:F2} s; {ok} read, {refused} refused with the documented exception.");
    }

    [Fact]
    public void CsvReaderOnlyEverSucceedsOrThrowsDataFileException()
    {
        byte[][] bases = new[]
        {
            "a,b,c\n1,2,3\n4.5,-6e-1,7\n",
            "# comment\n\nm1,m2,r,F\n1.5,1.25,1.1,1.549\n\"2\",1.0,1.9,0.55\n",
            "1,2\n3,4\n5,6\n",
            "\"x, 1\",\"y \"\"q\"\"\"\n 1 , 2 \n3,4\n",
        }.Select(Encoding.UTF8.GetBytes).ToArray();
        // Per base: a selection that fits the unmutated file (besides reading every column).
        IReadOnlyList<CsvColumn>[][] selections = [[["a", "b"], ["c"]], [["m1", "r"], ["F"]], [[0], [1]], [["x, 1"], [1]]];
        Run("CSV", Plans(bases.Length), bases, (index, bytes) =>
        {
            string text = Encoding.UTF8.GetString(bytes);
            bool read = true;
            foreach (IReadOnlyList<CsvColumn>[] groups in new[] { [], selections[index] })
            {
                try
                {
                    FloatMatrix[] result = CsvMatrix.ReadText(text, "fuzz.csv", groups);
                    Assert.All(result, m => Assert.All(m.Values, v => Assert.True(float.IsFinite(v))));
                    Assert.All(result, m => Assert.Equal(result[0].Rows, m.Rows));
                }
                catch (DataFileException e) when (e.Message.StartsWith("fuzz.csv", StringComparison.Ordinal))
                {
                    read = false;
                }
            }

            if (!read)
                throw new DataFileException("fuzz.csv: refused", "fuzz.csv");
        }, e => e is DataFileException);
    }

    [Fact]
    public void NpyReaderOnlyEverSucceedsOrThrowsDataFileException()
    {
        byte[][] bases =
        [
            NpyFile.ToBytes([1f, 2f, 3f, 4f, 5f, 6f], 3, 2),
            NpyFileTests.Npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", [.. BitConverter.GetBytes(1.0), .. BitConverter.GetBytes(2.0), .. BitConverter.GetBytes(3.0), .. BitConverter.GetBytes(4.0)], major: 2),
            NpyFileTests.Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", [.. BitConverter.GetBytes(1), .. BitConverter.GetBytes(-2), .. BitConverter.GetBytes(3)], major: 3),
        ];
        Run("npy", Plans(bases.Length), bases, (_, bytes) =>
        {
            FloatMatrix m = NpyFile.Read(bytes, "fuzz.npy");
            Assert.Equal(m.Rows * m.Columns, m.Values.Length);
        }, e => e is DataFileException d && d.Message.StartsWith("fuzz.npy: ", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckpointReaderOnlyEverSucceedsOrThrowsCheckpointFormatException()
    {
        var bases = new List<byte[]>();
        using (var device = NaluDevice.Create(DeviceKind.Native))
        {
            var architectures = new[]
            {
                new ModelArchitecture([LayerSpec.Nac(2, 1)]),
                new ModelArchitecture([LayerSpec.Nau(2, 2, RegularizerSettings.Sparsity(1f, 10, 100)), LayerSpec.Nmu(2, 1)]),
            };
            foreach (ModelArchitecture architecture in architectures)
            {
                using var model = new Model(device, architecture, seeds: [1, 2]);
                string path = Path.Combine(_dir, $"base{bases.Count}.safetensors");
                Checkpoint.Save(path, model, new ArithmeticTask(ArithmeticOp.Add, inputs: 2), step: 7);
                bases.Add(File.ReadAllBytes(path));
            }

            // A checkpoint with training state (optimizer moments, best evaluations, history, options).
            using (var model = new Model(device, architectures[1], seeds: [1, 2]))
            using (var trainer = new Nalu.Gpu.Training.Trainer(model, new ArithmeticTask(ArithmeticOp.Add, inputs: 2),
                new Nalu.Gpu.Training.TrainerOptions { Batch = 4, EvaluateEvery = 5, ValidationSamples = 16, TestSamples = 16, EvaluationChunks = 2 }))
            {
                trainer.Train(12);
                string path = Path.Combine(_dir, $"base{bases.Count}.safetensors");
                trainer.SaveCheckpoint(path);
                bases.Add(File.ReadAllBytes(path));
            }
        }

        Run("safetensors", Plans(bases.Count), bases.ToArray(), (_, bytes) =>
        {
            string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
            File.WriteAllBytes(path, bytes);
            try
            {
                try
                {
                    SafeTensorsFile.Read(path);
                }
                catch (CheckpointFormatException)
                {
                }

                Checkpoint.Read(path);
            }
            finally
            {
                File.Delete(path);
            }
        }, e => e is CheckpointFormatException);
    }
}
