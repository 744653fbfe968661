package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.io.AtomicFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** Reading and writing model files, with or without an external data file. */
final class ModelFiles {
    /** Protobuf refuses to parse messages over 2 GiB - 1. */
    static final long MAX_MODEL_BYTES = Integer.MAX_VALUE;
    /** Bytes moved per transfer call when copying external payloads from one data file to another. */
    private static final long COPY_CHUNK = 64L << 20;

    private ModelFiles() {
    }

    static OnnxModel read(Path path) {
        Path abs = path.toAbsolutePath();
        long size;
        try {
            size = Files.size(abs);
        } catch (NoSuchFileException e) {
            throw new ModelLoadException("ONNX model file " + abs + " does not exist");
        } catch (IOException e) {
            throw new ModelLoadException("cannot read ONNX model file " + abs + ": " + e, e);
        }
        if (Files.isDirectory(abs)) {
            throw new ModelLoadException(abs + " is a folder; expected an .onnx file");
        }
        if (size > TensorValue.MAX_BUFFER) {
            throw new ModelLoadException(abs + " has " + size + " bytes; ONNX model files are limited to 2 GiB by "
                    + "protobuf (larger models keep their weights in external data files)");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(abs);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read ONNX model file " + abs + ": " + e, e);
        }
        return ModelDecoder.decode(bytes, abs.toString(), abs.getParent());
    }

    static byte[] toByteArray(OnnxModel model) {
        ProtoWriter w = new ModelEncoder(Map.of()).model(model);
        checkSize(w, "the model");
        return w.toByteArray();
    }

    static byte[] toByteArrayWithExternalReferences(OnnxModel model, Map<String, ExternalData> references) {
        Map<TensorValue, ExternalData> placements = new IdentityHashMap<>();
        keepExternal(model.graph(), placements);
        for (Map.Entry<String, ExternalData> e : references.entrySet()) {
            TensorValue t = model.graph().initializer(e.getKey()).orElseThrow(() -> InvalidRequestException.of(
                    "references", "names of main-graph initializers", "\"" + e.getKey() + "\""));
            placements.put(t, e.getValue());
        }
        ProtoWriter w = new ModelEncoder(placements).model(model);
        checkSize(w, "the model");
        return w.toByteArray();
    }

    /** Maps every externally stored tensor of the graph and its subgraphs to its own reference. */
    private static void keepExternal(OnnxGraph g, Map<TensorValue, ExternalData> out) {
        for (TensorValue t : g.initializers()) {
            if (t.isExternal()) {
                out.put(t, t.externalData());
            }
        }
        for (OnnxNode n : g.nodes()) {
            for (OnnxAttribute a : n.attributes()) {
                if (a.type() == AttributeType.GRAPH) {
                    keepExternal(a.graphValue(), out);
                } else if (a.type() == AttributeType.GRAPHS) {
                    for (OnnxGraph sub : a.graphs()) {
                        keepExternal(sub, out);
                    }
                }
            }
        }
    }

    static void write(OnnxModel model, Path path, WriteOptions options) {
        Path target = path.toAbsolutePath();
        Map<TensorValue, ExternalData> placements = new IdentityHashMap<>();
        List<TensorValue> external = new ArrayList<>();
        Path dataPath = null;
        if (options.usesExternalData()) {
            String fileName = options.externalFileName() != null ? options.externalFileName()
                    : target.getFileName() + "_data";
            dataPath = target.resolveSibling(fileName);
            if (dataPath.equals(target)) {
                throw InvalidRequestException.of("externalFileName", "a name other than the model file's", fileName);
            }
            collect(model.graph(), options.externalThreshold(), external, new IdentityHashMap<>());
            long pos = 0;
            for (TensorValue t : external) {
                pos = align(pos, options.alignment());
                placements.put(t, new ExternalData(fileName, pos, t.byteSize(), dataPath));
                pos += t.byteSize();
            }
        }
        ProtoWriter w = new ModelEncoder(placements).model(model);
        checkSize(w, target.getFileName().toString());
        // both files are complete on disk before either replaces its predecessor: a full disk never leaves an old model
        // file pointing into a new data file
        Map<Path, AtomicFiles.Writer> files = new java.util.LinkedHashMap<>();
        if (!external.isEmpty()) {
            files.put(dataPath, ch -> writeData(ch, external, placements));
        }
        files.put(target, w::writeTo);
        AtomicFiles.writeAll(files);
    }

    private static void checkSize(ProtoWriter w, String what) {
        if (w.size() > MAX_MODEL_BYTES) {
            throw new InvalidRequestException(what + " would be " + w.size() + " bytes, over protobuf's 2 GiB limit; "
                    + "write it with WriteOptions.externalData(1024) to move the weights into a data file");
        }
    }

    /** Initializers of the graph and its subgraphs whose payload reaches the threshold, each instance once. */
    private static void collect(OnnxGraph g, long threshold, List<TensorValue> out, Map<Object, Boolean> seen) {
        for (TensorValue t : g.initializers()) {
            if (t.dataType() != DataType.STRING && t.byteSize() >= threshold && seen.put(t, Boolean.TRUE) == null) {
                out.add(t);
            }
        }
        for (OnnxNode n : g.nodes()) {
            for (OnnxAttribute a : n.attributes()) {
                if (a.type() == AttributeType.GRAPH) {
                    collect(a.graphValue(), threshold, out, seen);
                } else if (a.type() == AttributeType.GRAPHS) {
                    for (OnnxGraph sub : a.graphs()) {
                        collect(sub, threshold, out, seen);
                    }
                }
            }
        }
    }

    private static long align(long pos, long alignment) {
        return (pos + alignment - 1) & -alignment;
    }

    private static void writeData(FileChannel ch, List<TensorValue> tensors, Map<TensorValue, ExternalData> placements)
            throws IOException {
        long pos = 0;
        for (TensorValue t : tensors) {
            ExternalData place = placements.get(t);
            if (place.offset() > pos) {
                writeFully(ch, ByteBuffer.allocate((int) (place.offset() - pos)));
                pos = place.offset();
            }
            ExternalData source = t.externalData();
            if (t.isExternal() && source.file() != null) {
                copyRegion(source, ch);
            } else {
                writeFully(ch, t.bytes());
            }
            pos += place.length();
        }
    }

    /** Copies a tensor from its current data file in chunks, so single payloads over 2 GiB can be moved too. */
    private static void copyRegion(ExternalData source, FileChannel out) throws IOException {
        try (FileChannel in = FileChannel.open(source.file(), StandardOpenOption.READ)) {
            long done = 0;
            while (done < source.length()) {
                long n = in.transferTo(source.offset() + done, Math.min(COPY_CHUNK, source.length() - done), out);
                if (n <= 0) {
                    throw new IOException("external data file " + source.file() + " ended at " + (source.offset() + done)
                            + ", expected " + source.length() + " bytes from offset " + source.offset());
                }
                done += n;
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
