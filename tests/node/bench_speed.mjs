// llama.cpp's prefill and decode speed (through node-llama-cpp) on a GGUF, for bench/engine.sh.
// Usage: node bench_speed.mjs MODEL.gguf REQUEST.json  -> JSON on stdout:
//   {"prefill_tps": tokens/s, "decode_tps": tokens/s, "prompt": n, "generated": m}
// REQUEST: {"tokens": [ids, BOS included], "decode": N, "threads": T, "context": C}.
// Settings as a llama.cpp user runs it: CPU only, no source build, the default F16 KV cache
// and flash-attention choice, batch 512. The prompt is evaluated in one call without
// sampling (performance.now() around it), then N tokens are decoded greedily one at a
// time, the end-of-generation token ignored, counting the yields (../shared/docs/oracles.md).
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, requestPath] = process.argv.slice(2);
const {tokens, decode, threads, context: contextSize} = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const llama = await getLlama({
    gpu: false, build: "never", logLevel: LlamaLogLevel.warn,
    logger: (level, message) => process.stderr.write(`[llama ${level}] ${message}\n`),
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize, threads, batchSize: 512, sequences: 1});
const seq = context.getSequence();

let t0 = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(tokens);
const prefill = (performance.now() - t0) / 1000;

// The first decode step runs the last prompt token again (the prefill kept no logits), as
// llama-bench's tg test starts from one token: DECODE forward passes in all.
let generated = 0;
t0 = performance.now();
for await (const token of seq.evaluate([tokens[tokens.length - 1]], {temperature: 0})) {
    void token;
    if (++generated >= decode)
        break;
}
const decodeSecs = (performance.now() - t0) / 1000;

await context.dispose();
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify({
    prefill_tps: tokens.length / prefill, decode_tps: generated / decodeSecs,
    prompt: tokens.length, generated,
}) + "\n");
