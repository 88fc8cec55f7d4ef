// Hugging Face's tokenizers as an independent judge of our byte-level BPE runtime: npm's
// @huggingface/tokenizers (tokenizers.js, a plain JavaScript implementation of the
// tokenizer.json pipeline; its Split regexes run in JavaScript's own Unicode regex engine).
// Usage: node hf_tokenize.mjs MODEL_DIR REQUEST.json  -> JSON on stdout
// MODEL_DIR holds tokenizer.json and tokenizer_config.json.
// REQUEST: {"texts": ["text", ...]}  -> {"results": [{"ids": with add_special_tokens (the
// post-processor's BOS), "plain": without, "decoded": decode(plain)}, ...]}
import fs from "node:fs";
import path from "node:path";
import {Tokenizer} from "@huggingface/tokenizers";

const [dir, requestPath] = process.argv.slice(2);
const read = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
const tokenizer = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
const req = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const results = req.texts.map((text) => {
    const plain = tokenizer.encode(text, {add_special_tokens: false}).ids;
    return {
        ids: tokenizer.encode(text).ids,
        plain,
        decoded: plain.length ? tokenizer.decode(plain, {clean_up_tokenization_spaces: false}) : "",
    };
});
process.stdout.write(JSON.stringify({results}) + "\n");
