#!/usr/bin/python3
"""Regenerates the PyTorch reference files under tests/golden/ (`make golden`).

    /usr/bin/python3 tools/golden/make_golden.py [OUT_ROOT] [--core-only] [--check] [--only OP[,OP...]]

OUT_ROOT defaults to tests/golden. This script writes OUT_ROOT/core/<op>.safetensors, one file per op of
src/cairn/core/ops/ops.h (the cases are in core_golden_cases.py), then runs every other
tools/golden/make_*.py generator with no arguments (each writes its own tests/golden/<layer>/ files)
unless --core-only is given. --check writes nothing: it regenerates the core files in memory and exits 1
if any differs from the file on disk (stale references). --only limits the core files to the ops named.

Each core file holds, for every case and for float64 and float32 ("f64", "f32"):

    <dt>/<case>/in/<name>      the inputs (floating inputs in <dt>; indices int64/int32; masks uint8)
    <dt>/<case>/out            the output (or out/0, out/1, ... for ops returning several tensors)
    <dt>/<case>/R              a fixed random tensor of the output's shape (R/0, R/1, ... likewise)
    <dt>/<case>/grad/<name>    d sum(out * R) / d input, for the inputs the case differentiates
    <dt>/<case>/after/<name>   an input after the call, for ops that update state in place (batch_norm)

computed by PyTorch (Debian's python3-torch, on the CPU, one thread). The float32 inputs are the float64
inputs rounded; the float32 references are PyTorch's float64 results on those rounded inputs, rounded to
float32 (see run_case: PyTorch's own float32 arithmetic is sometimes less accurate than the tests demand).
The C++ tests (tests/core/golden_*test.cpp) read the files with no Python involved, run the same call in
Cairn and compare.

The `safetensors` Python package is not packaged for Debian, so the format is written by hand (struct + json),
as the reference implementation lays it out: 8-byte little-endian header length N, N bytes of compact JSON
{"__metadata__": {...}, name: {"dtype", "shape", "data_offsets"}, ...} padded with spaces to a multiple of 8,
then the tensors' raw little-endian bytes back to back.
"""
import glob
import json
import os
import struct
import subprocess
import sys
import warnings
import zlib

import torch

# PyTorch pads a copy of the input for 'same' with an even kernel: expected, and not worth a warning per run.
warnings.filterwarnings("ignore", message="Using padding='same'")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core_golden_cases  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
F64 = torch.float64
DTYPES = {"f64": torch.float64, "f32": torch.float32}
NAMES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


def serialize(named, metadata):
    assert sys.byteorder == "little"
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in named.items():
        data = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def parse(blob):
    """Reads a file written by serialize() back (an independent check of the bytes)."""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    frm = {v: k for k, v in NAMES.items()}
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=frm[info["dtype"]]) if e > b else torch.zeros(0, dtype=frm[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out, meta


def fixed_r(op, case, index, shape):
    """The R of sum(out * R): standard normal, seeded by the op, case and output index only."""
    g = torch.Generator().manual_seed(zlib.crc32(f"{op}/{case}/R{index}".encode()))
    return torch.randn(shape, generator=g, dtype=torch.float64)


def stored(t):
    t = t.detach().clone().contiguous()
    return t.to(torch.uint8) if t.dtype == torch.bool else t


def call(case, inputs, dtype, grad):
    """Runs the case on `inputs` (cloned; the differentiated ones as leaves). Returns (leaves, outputs, single)."""
    leaves = {k: (v.clone().requires_grad_() if grad and k in case.grad else v.clone()) for k, v in inputs.items()}
    args = list(leaves.values())  # positional, in the order the case lists its inputs
    result = case.fn(*args, dtype=dtype) if case.pass_dtype else case.fn(*args)
    single = not isinstance(result, (tuple, list))
    return leaves, [result] if single else list(result), single


def run_case(op, case, dt, named):
    tdt = DTYPES[dt]
    prefix = f"{dt}/{case.name}"
    inputs = {k: (v.to(tdt) if v.is_floating_point() else v.clone()) for k, v in case.inputs.items()}
    for k, t in inputs.items():
        named[f"{prefix}/in/{k}"] = stored(t)
    # The reference arithmetic is float64 even for float32 files: PyTorch's float32 result can itself be off
    # by more than the tests' 1e-5 (logsumexp's backward near x = 800 computes exp(x - result) with `result`
    # rounded to float32: 3e-5 relative). So the float32 case runs in float64 on the float32-rounded inputs and
    # the results are rounded to the dtypes the same call gives in float32 (which this also checks it runs).
    with torch.no_grad():
        _, native, _ = call(case, inputs, tdt, grad=False)
    wide = {k: (v.to(F64) if v.is_floating_point() else v) for k, v in inputs.items()}
    leaves, outs, single = call(case, wide, F64, grad=True)
    assert len(outs) == len(native), f"{op}/{case.name}"
    loss = None
    for i, (o, n) in enumerate(zip(outs, native)):
        assert o.shape == n.shape, f"{op}/{case.name}: shape {tuple(o.shape)} vs {tuple(n.shape)} in {dt}"
        suffix = "" if single else f"/{i}"
        named[f"{prefix}/out{suffix}"] = stored(o.detach().to(n.dtype))
        if case.grad and o.is_floating_point() and o.requires_grad:
            r = fixed_r(op, case.name, i, o.shape).to(n.dtype)
            named[f"{prefix}/R{suffix}"] = r
            term = (o * r.to(F64)).sum()
            loss = term if loss is None else loss + term
    if case.grad:
        assert loss is not None, f"{op}/{case.name}: no differentiable output"
        loss.backward()
        for k in case.grad:
            g = leaves[k].grad
            named[f"{prefix}/grad/{k}"] = stored((g if g is not None else torch.zeros_like(leaves[k])).to(tdt))
    for k in case.mutated:
        named[f"{prefix}/after/{k}"] = stored(leaves[k].to(inputs[k].dtype))


def build(op, cases):
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), f"{op}: duplicate case names"
    named = {}
    for dt in DTYPES:
        for case in cases:
            run_case(op, case, dt, named)
    meta = {"op": op, "cases": ",".join(names), "generator": "tools/golden/make_golden.py",
            "torch": torch.__version__}
    blob = serialize(named, meta)
    back, meta_back = parse(blob)
    assert meta_back == meta and list(back) == list(named)
    for k, t in named.items():
        assert back[k].dtype == t.dtype and torch.equal(back[k], t), k
    return blob


def write_atomic(path, blob):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = [a for a in argv if a.startswith("--")]
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        only = set(argv[i + 1].split(","))
        args.remove(argv[i + 1])
    out_root = args[0] if args else os.path.join(ROOT, "tests", "golden")
    check = "--check" in flags
    torch.set_num_threads(1)
    torch.manual_seed(0)

    out_dir = os.path.join(out_root, "core")
    os.makedirs(out_dir, exist_ok=True)
    ops = core_golden_cases.all_ops()
    if only:
        unknown = only - set(ops)
        assert not unknown, f"unknown ops: {sorted(unknown)}"
    stale, total = [], 0
    for op, make_cases in ops.items():
        if only and op not in only:
            continue
        blob = build(op, make_cases())
        path = os.path.join(out_dir, f"{op}.safetensors")
        total += len(blob)
        if check:
            if not os.path.exists(path) or open(path, "rb").read() != blob:
                stale.append(path)
            continue
        write_atomic(path, blob)
        print(f"wrote {os.path.relpath(path, ROOT)}: {len(blob)} bytes")
    print(f"core: {len(ops) if not only else len(only)} ops, {total} bytes")
    if check:
        for p in stale:
            print(f"stale: {p}")
        return 1 if stale else 0

    default_root = os.path.abspath(out_root) == os.path.join(ROOT, "tests", "golden")
    if "--core-only" not in flags and not only and not default_root:
        print("not running the other generators: they write to tests/golden/ only")
    if "--core-only" not in flags and not only and default_root:
        here = os.path.dirname(os.path.abspath(__file__))
        for script in sorted(glob.glob(os.path.join(here, "make_*.py"))):
            if os.path.abspath(script) == os.path.abspath(__file__):
                continue
            print(f"running {os.path.relpath(script, ROOT)}")
            subprocess.run([sys.executable, script], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
