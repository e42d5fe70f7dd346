using System.Buffers.Binary;
using System.IO.Compression;

namespace EfficientAttention;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: a big-endian header (0, 0, type code, number of dimensions), each
/// dimension as a big-endian int32, then the data in row-major order. Only unsigned bytes (type 0x08) occur in these
/// datasets and are supported. Files ending in .gz are gzip-compressed.
/// </summary>
public static class Idx
{
    private const byte UnsignedByte = 0x08;

    /// <summary>Dimensions and bytes of an IDX file (.gz or plain); errors name the file and what is wrong.</summary>
    public static (int[] Dimensions, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file {path} does not exist.", path);
        using var file = File.OpenRead(path);
        using var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        try { return Read(stream); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    public static (int[] Dimensions, byte[] Data) Read(Stream stream)
    {
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, "header");
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"not an IDX file: the magic number starts with {header[0]:X2} {header[1]:X2}, expected 00 00.");
        if (header[2] != UnsignedByte)
            throw new InvalidDataException($"IDX element type 0x{header[2]:X2} is not supported; expected 0x08 (unsigned byte).");
        int rank = header[3];
        if (rank < 1) throw new InvalidDataException("IDX file declares 0 dimensions; expected ≥ 1.");
        var dims = new int[rank];
        Span<byte> four = stackalloc byte[4];
        for (int i = 0; i < rank; i++)
        {
            ReadExactly(stream, four, $"dimension {i}");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(four);
            if (dims[i] < 0) throw new InvalidDataException($"IDX dimension {i} is {dims[i]}; expected ≥ 0.");
        }
        long size = dims.Aggregate(1L, (a, d) => a * d);
        if (size > Array.MaxLength) throw new InvalidDataException($"IDX data of {size} bytes is too large.");
        var data = new byte[size];
        ReadExactly(stream, data, $"data ({string.Join("×", dims)} bytes)");
        return (dims, data);
    }

    /// <summary>Writes an unsigned-byte IDX file (gzip when the name ends in .gz), atomically.</summary>
    public static void Write(string path, int[] dimensions, byte[] data)
    {
        long size = dimensions.Aggregate(1L, (a, d) => a * d);
        if (size != data.Length) throw new ArgumentException($"data has {data.Length} bytes; dimensions {string.Join("×", dimensions)} need {size}.", nameof(data));
        AtomicFile.Write(path, file =>
        {
            using var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true) : file;
            stream.Write([0, 0, UnsignedByte, (byte)dimensions.Length]);
            Span<byte> four = stackalloc byte[4];
            foreach (var d in dimensions) { BinaryPrimitives.WriteInt32BigEndian(four, d); stream.Write(four); }
            stream.Write(data);
        });
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer[read..]);
            if (n == 0) throw new InvalidDataException($"IDX file ends early in its {what}: read {read} of {buffer.Length} bytes.");
            read += n;
        }
    }
}
