// llama.cpp's next-token distribution at every position of a token sequence, for measuring
// how far a quantized GGUF moved a model (KL divergence against a reference).
// Usage: node llama_probs.mjs MODEL.gguf REQUEST.json  -> JSON on stdout:
//   {"probs": [[p_0 .. p_{n-1}] for every position]}
// REQUEST: {"tokens": [ids, BOS included], "vocab": n}; "tokens" may also be a list of such
// sequences, each evaluated from position 0 of an empty cache (one model load for a text
// longer than the context), their positions' rows concatenated in order. Settings as llama_run.mjs (one thread, F32 KV
// cache, no flash attention) and no sampling filters (top-k, top-p, min-p off), so every
// token keeps its probability; the distributions are float32 softmaxes (oracles.md).
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, requestPath] = process.argv.slice(2);
const {tokens, vocab} = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const llama = await getLlama({
    gpu: false, build: "never", logLevel: LlamaLogLevel.warn,
    logger: (level, message) => process.stderr.write(`[llama ${level}] ${message}\n`),
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
    contextSize: Math.min(512, model.trainContextSize), threads: 1, sequences: 1,
    flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const seq = context.getSequence();
const next = {generateNext: {probabilities: true, options: {temperature: 1, topK: vocab, topP: 1, minP: 0}}};
const probs = [];
for (const part of Array.isArray(tokens[0]) ? tokens : [tokens]) {
    await seq.clearHistory();
    const res = await seq.controlledEvaluate(part.map((t) => [t, next]));
    for (const r of res) {
        const row = new Array(vocab).fill(0);
        for (const [tok, p] of r.next.probabilities.entries())
            row[tok] = p;
        probs.push(row);
    }
}
await context.dispose();
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify({probs}) + "\n");
