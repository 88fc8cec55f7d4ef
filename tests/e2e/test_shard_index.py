"""One reader and one set of rules for both sharded-checkpoint indexes (formats/shard_index.c):
the same weight_map fault in model.safetensors.index.json and in pytorch_model.bin.index.json
must be refused with the same message (once the paths, index name and shard extension are
written the same way), and shards in a subdirectory must open in both formats. Each model
is opened through wk_source_open by st-check (safetensors) and pt-dump (PyTorch)."""
import json
import os

import pytest

import make_bad_pickles as mbp
import make_bad_safetensors as mbs
from conftest import GEN, run

FORMATS = {
    # extension, index file name, helper that opens the model
    "safetensors": (".safetensors", "model.safetensors.index.json", GEN / "st-check"),
    "pytorch": (".bin", "pytorch_model.bin.index.json", GEN / "pt-dump"),
}
GOOD = {"a": "s1", "b": "s1", "c": "s2"}


def write_shard(fmt, path, names):
    """A valid shard holding one 2-element F32 tensor per name."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if fmt == "safetensors":
        data = mbs.good_file({n: ("F32", [2], 8) for n in names})
    else:
        sd = mbp.state_dict(*[(n, mbp.tensor(str(k), 2, 0, (2,), (1,)))
                              for k, n in enumerate(names)])
        mbp.write_zip(path, sd, {str(k): mbp.floats(2) for k in range(len(names))})
        return
    with open(path, "wb") as f:
        f.write(data)


def model(root, fmt, weight_map=None, text=None, shards=None):
    """A model directory: shards is {shard stem: tensor names} (default s1: a, b and s2: c);
    the index is json of weight_map (values are stems, given the format's extension) or the
    raw text (where "EXT" stands for the extension)."""
    ext, index, _ = FORMATS[fmt]
    d = os.path.join(root, fmt)
    for stem, names in (shards or {"s1": ["a", "b"], "s2": ["c"]}).items():
        write_shard(fmt, os.path.join(d, stem + ext), names)
    if text is None:
        text = json.dumps({"metadata": {"total_size": 24},
                           "weight_map": {t: s + "EXT" for t, s in weight_map.items()}})
    data = text.encode("utf-8", "surrogateescape").replace(b"EXT", ext.encode())
    with open(os.path.join(d, index), "wb") as f:
        f.write(data)
    return d, os.path.join(d, index)


def refusal(tmp_path, fmt, **kw):
    """The error message for the model, with the format-specific parts made generic."""
    ext, index, helper = FORMATS[fmt]
    d, ix = model(str(tmp_path), fmt, **kw)
    p = run([helper, ix])
    assert p.returncode == 1, f"{fmt}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.stdout == "", p.stdout
    msg = p.stderr.strip().split(": error: ", 1)[1]
    return msg.replace(ix, "INDEX").replace(d, "DIR").replace(ext, ".EXT")


CASES = [
    # name, model arguments, expected fragment
    ("unlisted", dict(weight_map={"a": "s1", "c": "s2"}),
     "DIR/s1.EXT: tensor 'b' is not listed in the weight_map of INDEX"),
    ("absent", dict(weight_map=dict(GOOD, d="s2")),
     "INDEX: weight_map puts tensor 'd' in shard 's2.EXT', but that shard has no such tensor"),
    ("wrong_shard", dict(weight_map=dict(GOOD, b="s2")),
     "DIR/s1.EXT: holds tensor 'b', but INDEX maps it to shard 's2.EXT'"),
    ("in_two_shards", dict(weight_map=GOOD, shards={"s1": ["a", "b"], "s2": ["a", "c"]}),
     "DIR/s2.EXT: holds tensor 'a', but INDEX maps it to shard 's1.EXT'"),
    ("missing_shard", dict(weight_map=dict(GOOD, c="nope")),
     "INDEX: weight_map names shard 'nope.EXT', but DIR/nope.EXT is not a file"),
    ("traversal", dict(weight_map=dict(GOOD, c="sub/../../s2")), "without '..'"),
    ("absolute", dict(weight_map=dict(GOOD, c="/tmp/s2")), "does not name a shard file"),
    ("backslash", dict(weight_map=dict(GOOD, c="sub\\s2")), "does not name a shard file"),
    ("control_char", dict(weight_map=dict(GOOD, c="s\x012")), "'s\\x012.EXT', which does not"),
    ("duplicate_tensor", dict(text='{"weight_map": {"a": "s1EXT", "b": "s1EXT", '
                                   '"a": "s1EXT", "c": "s2EXT"}}'),
     "INDEX: weight_map lists tensor 'a' twice"),
    ("duplicate_root_key", dict(text='{"weight_map": {"a": "s1EXT"}, "weight_map": '
                                     '{"a": "s1EXT", "b": "s1EXT", "c": "s2EXT"}}'),
     "INDEX: the index has the key 'weight_map' twice"),
    ("not_utf8", dict(text='{"weight_map": {"a": "s1\udcffEXT"}}'),
     "INDEX: byte at offset 24 is not valid UTF-8"),
    ("trailing_text", dict(text='{"weight_map": {"a": "s1"}} x'),
     "INDEX: not valid JSON (parse error near offset 28)"),
    ("empty_map", dict(text='{"weight_map": {}}'), 'non-empty "weight_map" object'),
    ("value_not_string", dict(text='{"weight_map": {"a": 1}}'),
     "weight_map entry for tensor 'a' is not a string"),
]


@pytest.mark.parametrize("name,kw,expect", CASES, ids=[c[0] for c in CASES])
def test_same_fault_same_message(tmp_path, name, kw, expect):
    msgs = {fmt: refusal(tmp_path, fmt, **kw) for fmt in FORMATS}
    assert expect in msgs["safetensors"], msgs
    assert msgs["safetensors"] == msgs["pytorch"], msgs


@pytest.mark.parametrize("fmt", FORMATS)
def test_shards_in_a_subdirectory_open(tmp_path, fmt):
    _, ix = model(str(tmp_path), fmt, weight_map={"a": "sub/s1", "b": "sub/s1", "c": "s2"},
                  shards={"sub/s1": ["a", "b"], "s2": ["c"]})
    p = run([FORMATS[fmt][2], ix], check=0)
    names = [ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("tensor ")]
    assert names == ["c", "a", "b"], p.stdout  # shards in sorted name order: s2, sub/s1
