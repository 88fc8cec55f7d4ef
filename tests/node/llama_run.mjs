// llama.cpp (through node-llama-cpp) as an independent judge of a GGUF that wk-convert wrote.
// Usage: node llama_run.mjs MODEL.gguf REQUEST.json  -> JSON on stdout
// REQUEST: {"tokenize": ["text", ...],          token ids without BOS (model.tokenize)
//           "prompt": [ids], "steps": N, "top": K}  greedy decoding of N tokens after the
//           prompt; for every step the chosen token and the top-K next-token probabilities.
// Settings follow ../shared/docs/oracles.md: CPU only, no source build, one thread, F32 KV
// cache and no flash attention, so probabilities are comparable to ~1e-6.
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, requestPath] = process.argv.slice(2);
const req = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const llama = await getLlama({
    gpu: false, build: "never", logLevel: LlamaLogLevel.warn,
    logger: (level, message) => process.stderr.write(`[llama ${level}] ${message}\n`),
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const out = {bos: model.tokens.bos, eos: model.tokens.eos};
out.tokenize = (req.tokenize || []).map((s) => Array.from(model.tokenize(s)));

if (req.prompt) {
    const context = await model.createContext({
        contextSize: Math.min(256, model.trainContextSize), threads: 1, sequences: 1,
        flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const seq = context.getSequence();
    const top = req.top || 10;
    const next = {generateNext: {token: true, probabilities: true, options: {temperature: 0}}};
    out.steps = [];
    let input = req.prompt;
    for (let s = 0; s < req.steps; s++) {
        const last = input.length - 1;
        const res = await seq.controlledEvaluate(input.map((t, i) => (i === last ? [t, next] : t)));
        const n = res[last].next;
        const probs = [...n.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
        out.steps.push({token: n.token, top: probs});
        input = [n.token];
    }
    await context.dispose();
}
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify(out) + "\n");
