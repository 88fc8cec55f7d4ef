"""The preparations of bench/engine.sh and bench/prune.sh, each a subcommand:

  prompt WK_RUN MODEL.gguf N DIR   writes DIR/prompt.txt, a text that MODEL's tokenizer turns
                                   into exactly N tokens (BOS included), and DIR/ids.json,
                                   those token ids, as `wk-run --tokenize --json` gives them
  words N DIR                      writes DIR/words.txt, N words of the same stream: at least
                                   N tokens with any tokenizer (long calibration texts)
  bytes MODEL.gguf                 prints the weight bytes one decoded token reads, then the
                                   bytes of all tensors
  fresh FILE...                    drops each file from the page cache (written back first)
                                   and reads it once, in order, in 8 MiB pieces

The prompt is plain words drawn from a fixed list by a fixed generator, so every run and
every engine sees the same text; it is cut at the longest word prefix that stays within N
tokens, then short words are appended one at a time until the count is exactly N (only
counts are used, so any tokenizer works).

A decoded token reads every weight once, except the token embeddings, of which it reads one
row; when the model has no output.weight the embeddings are the output matrix and are read
whole. The sizes come from the GGUF header (tests/fixtures/gguf_read.py, independent of
weightkit's reader): elements x type size, block types by ggml's block sizes."""
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures"))
import gguf_read  # noqa: E402

WORDS = ("the of and to in is was that for on with as his they at be this from have or by "
         "one had not but what all were when we there can an your which their said if do "
         "will each about how up out them then she many some so these would other into has "
         "more her two like him see time could no make than first been its who now people "
         "my made over did down only way find use may water long little very after words "
         "called just where most know").split()
FILLERS = (" a", " I", " the", ".", ",", " of", "a", "s", "e", " and", " to")


def count(wk_run, model, text):
    p = subprocess.run([wk_run, model, "--tokenize", text, "--json"], capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"engine_prep: {wk_run} --tokenize failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def words(n):
    out, x = [], 12345
    for i in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(WORDS[(x >> 8) % len(WORDS)] + ("." if i % 13 == 12 else ""))
    return out


def prompt(wk_run, model, n, out_dir):
    n_of = lambda text: count(wk_run, model, text)["count"]  # noqa: E731
    pool = words(4 * n)  # every word is at least one token
    if n_of(" ".join(pool)) <= n:
        sys.exit(f"engine_prep: {4 * n} words make no more than {n} tokens")
    lo, hi = 0, len(pool)  # the most words whose count is <= n: in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if n_of(" ".join(pool[:mid])) <= n else (lo, mid)
    text = " ".join(pool[:lo])
    have = n_of(text)
    while have < n:
        for f in FILLERS:
            c = n_of(text + f)
            if have < c <= n:
                text, have = text + f, c
                break
        else:
            sys.exit(f"engine_prep: cannot extend the prompt from {have} to {n} tokens")
    res = count(wk_run, model, text)
    assert res["count"] == n, res["count"]
    (out_dir / "prompt.txt").write_text(text)
    (out_dir / "ids.json").write_text(json.dumps(res["ids"]))


def type_bytes(typ, ne):
    elems = 1
    for d in ne:
        elems *= d
    if typ in (gguf_read.GGML_F16, gguf_read.GGML_BF16):
        return elems * 2
    if typ == gguf_read.GGML_F32:
        return elems * 4
    if typ not in gguf_read.BLOCKS:
        sys.exit(f"engine_prep: ggml type {typ} has no known size")
    per, size = gguf_read.BLOCKS[typ]
    return elems // per * size


def weight_bytes(model):
    _, infos = gguf_read.layout(model)
    sizes = {name: (type_bytes(typ, ne), ne) for name, typ, ne, _ in infos}
    total = sum(b for b, _ in sizes.values())
    per_token = total
    if "output.weight" in sizes and "token_embd.weight" in sizes:
        emb, ne = sizes["token_embd.weight"]
        per_token -= emb - emb // ne[1]  # one row of ne[1] rows
    return per_token, total


def fresh(paths):
    # Every engine maps the same cached pages, and how the cache holds them changes what
    # streaming them costs: on the machine of docs/benchmarks.md the same F16 file decoded
    # at 16-18 tokens/s with wk-run and 14-15 with llama-bench while its cached pages were
    # 4 KiB pages scattered by days of other work, and at 19-22 and 20-21 once read afresh
    # (into 2 MiB folios, which the kernel then maps whole). So every bench run starts from
    # files read afresh, whatever their history.
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            while os.read(fd, 8 << 20):
                pass
        finally:
            os.close(fd)


def main(argv):
    if len(argv) == 6 and argv[1] == "prompt":
        prompt(argv[2], argv[3], int(argv[4]), pathlib.Path(argv[5]))
    elif len(argv) == 4 and argv[1] == "words":
        # at least N tokens with any tokenizer: every word is one or more
        (pathlib.Path(argv[3]) / "words.txt").write_text(" ".join(words(int(argv[2]))) + "\n")
    elif len(argv) == 3 and argv[1] == "bytes":
        print(*weight_bytes(argv[2]))
    elif len(argv) >= 3 and argv[1] == "fresh":
        fresh(argv[2:])
    else:
        sys.exit("usage: engine_prep.py prompt WK_RUN MODEL.gguf N DIR | words N DIR | "
                 "bytes MODEL.gguf | fresh FILE...")


if __name__ == "__main__":
    main(sys.argv)
