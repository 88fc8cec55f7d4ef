"""Rewrites a model.safetensors as a torch.save pytorch_model.bin, for bench/pytorch.sh.

Usage: /usr/bin/python3 bench/st_to_bin.py SRC.safetensors DST.bin

Reads safetensors by hand (Debian has no safetensors package): u64 little-endian header
length, JSON header {name: {dtype, shape, data_offsets}}, then the data (format:
https://github.com/huggingface/safetensors#format). Each tensor is a torch.frombuffer view
of its own slice of a copy-on-write memory map, so nothing is copied into anonymous memory
and the file's pages stay reclaimable; torch.save writes one storage per tensor, in header
order, as transformers' save_pretrained does. The output appears under DST only when
complete (written to DST.tmp.<pid>, then renamed).
"""
import json
import mmap
import os
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def read_state_dict(path, mm):
    """{name: tensor} viewing mm; raises ValueError naming path and tensor when malformed."""
    if len(mm) < 8:
        raise ValueError(f"{path}: {len(mm)} bytes, too short for the 8-byte header length")
    (hlen,) = struct.unpack_from("<Q", mm, 0)
    if hlen > len(mm) - 8:
        raise ValueError(f"{path}: offset 0: header length {hlen} runs past the end of the file")
    header = json.loads(bytes(mm[8:8 + hlen]))
    base, data_len = 8 + hlen, len(mm) - 8 - hlen
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info.get('dtype')!r}")
        shape = [int(d) for d in info["shape"]]
        begin, end = (int(x) for x in info["data_offsets"])
        numel = 1
        for d in shape:
            numel *= d
        size = numel * torch.tensor([], dtype=dtype).element_size()
        if not 0 <= begin <= end <= data_len or end - begin != size:
            raise ValueError(f"{path}: tensor {name}: data_offsets [{begin}, {end}] do not hold "
                             f"{size} bytes inside the {data_len}-byte data section")
        if numel == 0:
            state[name] = torch.empty(shape, dtype=dtype)
        else:
            view = memoryview(mm)[base + begin:base + end]
            state[name] = torch.frombuffer(view, dtype=dtype).reshape(shape)
    return state


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: st_to_bin.py SRC.safetensors DST.bin")
    src, dst = argv[1], argv[2]
    tmp = f"{dst}.tmp.{os.getpid()}"
    with open(src, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    try:
        state = read_state_dict(src, mm)
        torch.save(state, tmp)
        os.replace(tmp, dst)
    except (ValueError, OSError, KeyError, TypeError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        sys.exit(f"st_to_bin: error: {e}")


if __name__ == "__main__":
    main(sys.argv)
