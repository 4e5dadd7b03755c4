#!/usr/bin/python3
"""Writes tests/golden/io/reference.safetensors, the file Cairn's safetensors writer must reproduce
byte for byte (tests/io/safetensors_golden_test.cpp).

Run with Debian's python3-torch:   /usr/bin/python3 tools/golden/make_safetensors_ref.py [OUT]

The `safetensors` Python package is not packaged for Debian, so the format is written here by hand
with struct + json, exactly as the reference implementation (huggingface/safetensors, Rust,
`serialize`) lays it out:

  bytes [0, 8)        N = len(header), unsigned 64-bit little-endian
  bytes [8, 8+N)      the header: compact JSON (serde_json style: no spaces, UTF-8 kept as is)
                        {"__metadata__":{k:v,...},
                         name:{"dtype":D,"shape":[...],"data_offsets":[begin,end]}, ...}
                      with "__metadata__" first, then the tensors in data order, each with its keys
                      in the order dtype, shape, data_offsets; padded with b' ' until N % 8 == 0.
  bytes [8+N, end)    every tensor's raw bytes (row-major, little-endian), back to back with no gap,
                      data_offsets counted from byte 8+N.

One deliberate difference from the Rust writer: it sorts tensors by dtype alignment then name;
Cairn keeps the order in which tensors were added, and so does this script. Readers accept any
order, since data_offsets say where each tensor is.

After writing, the script reads the file back with a parser independent of the writer code path
and checks every tensor with torch.frombuffer against the original.
"""
import json
import os
import struct
import sys

import torch

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
FROM_NAME = {v: k for k, v in DTYPES.items()}


def tensors():
    """Small tensors of every dtype torch 1.13 has, with values the C++ test checks by bit pattern.
    Keep in sync with tests/io/safetensors_golden_test.cpp."""
    return {
        "f64": torch.tensor([[0.0, 1.0, -2.0], [0.5, 1e300, -0.0]], dtype=torch.float64),
        "f32": torch.tensor([[1.5, -3.25], [0.0, 65504.0]], dtype=torch.float32),
        "f16": torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -2.0, 0.5], dtype=torch.bfloat16),
        "i64": torch.tensor([-1, 2**40], dtype=torch.int64),
        "i32": torch.tensor([[-7], [123456]], dtype=torch.int32),
        "i16": torch.tensor([-300, 0, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([[0, 1], [128, 255]], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "layer.0.scalar": torch.tensor(3.0, dtype=torch.float32),
        "layer.0.empty": torch.zeros((0, 4), dtype=torch.float32),
        "ünïcode.wéight": torch.tensor([7, 8], dtype=torch.int16),
    }


METADATA = {"format": "pt", "source": "tools/golden/make_safetensors_ref.py"}


def raw_bytes(t):
    # reshape(-1) first: a 0-d tensor cannot be viewed as bytes. x86 and ARM Linux are little-endian.
    assert sys.byteorder == "little"
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def serialize(named, metadata):
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    blobs, offset = [], 0
    for name, t in named.items():
        data = raw_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def check(blob, named, metadata):
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    assert header.pop("__metadata__") == metadata
    assert list(header) == list(named)
    end = 0
    for name, info in header.items():
        begin, stop = info["data_offsets"]
        assert begin == end, name
        end = stop
        want = named[name]
        dtype = FROM_NAME[info["dtype"]]
        assert dtype == want.dtype and info["shape"] == list(want.shape), name
        if want.numel() == 0:
            assert stop == begin, name
            continue
        got = torch.frombuffer(bytearray(data[begin:stop]), dtype=dtype).reshape(info["shape"])
        assert torch.equal(got, want), name
    assert end == len(data)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests/golden/io/reference.safetensors")
    named = tensors()
    blob = serialize(named, METADATA)
    check(blob, named, METADATA)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(f"wrote {out}: {len(blob)} bytes, {len(named)} tensors")


if __name__ == "__main__":
    main()
