// Prints node-llama-cpp's readGgufFileInfo view of a GGUF as JSON: an independent parser
// (not llama.cpp's, not ours) for tests/e2e/test_gguf.py. Metadata keys are flattened back
// to "a.b.c"; BigInts become {"bigint": "<decimal>"}; tensors keep ggml order (ne[0] first).
// "tensors" are the named file's; "allTensors" those of every file of a split set.
import { readGgufFileInfo } from "node-llama-cpp";

function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj)) {
        const key = prefix ? `${prefix}.${k}` : k;
        if (v !== null && typeof v === "object" && !Array.isArray(v))
            flatten(v, key, out);
        else
            out[key] = v;
    }
    return out;
}

const path = process.argv[2];
if (!path) {
    console.error("usage: node gguf_info.mjs FILE.gguf");
    process.exit(2);
}
const info = await readGgufFileInfo(path, { sourceType: "filesystem", logWarnings: false });
const result = {
    version: info.version,
    tensorCount: info.tensorCount,
    infoEndOffset: info.infoEndOffset,
    metadata: flatten(info.metadata, "", {}),
    tensors: info.tensorInfo.map((t) => ({
        name: t.name,
        dimensions: t.dimensions,
        ggmlType: t.ggmlType,
        offset: t.offset,
        fileOffset: t.fileOffset,
    })),
    // a split set (NAME-00001-of-0000N.gguf) is spliced: the tensors of every file
    totalTensorCount: Number(info.totalTensorCount ?? info.tensorCount),
    allTensors: (info.fullTensorInfo ?? info.tensorInfo).map((t) => ({
        name: t.name,
        dimensions: t.dimensions,
        filePart: t.filePart ?? 1,
    })),
};
process.stdout.write(JSON.stringify(result, (k, v) =>
    typeof v === "bigint" ? { bigint: v.toString() } : v, 1) + "\n");
