// Loads a GGUF in llama.cpp (through node-llama-cpp, CPU only) and prints a greedy
// continuation of a prompt: the demo's proof that a converted file runs in llama.cpp.
// Usage: node generate.mjs MODEL.gguf "PROMPT" [TOKENS]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, prompt, n = "16"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize: Math.min(256, model.trainContextSize),
                                           threads: 1});
const seq = context.getSequence();
const input = [model.tokens.bos, ...model.tokenize(prompt)];
const out = [];
for await (const t of seq.evaluate(input, {temperature: 0})) {
    out.push(t);
    if (out.length >= Number(n) || t === model.tokens.eos)
        break;
}
console.log(`llama.cpp loaded ${modelPath}: ${model.fileInfo.tensorInfo.length} tensors, ` +
            `${model.fileInfo.architectureMetadata.block_count} blocks, ` +
            `context ${model.trainContextSize}`);
console.log(`prompt ${JSON.stringify(prompt)} -> ${input.length} tokens; greedy continuation:`);
console.log(JSON.stringify(model.detokenize(out)));
await context.dispose();
await model.dispose();
