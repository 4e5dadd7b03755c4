#!/usr/bin/python3
"""Writes PyTorch references for Cairn's LSTM and GRU layers into tests/golden/rnn/ (read by
tests/nn/rnn_golden_test.cpp).

Run with Debian's python3-torch:   /usr/bin/python3 tools/golden/make_rnn.py [OUT_DIR]

One file per case, float64, computed by torch.nn.LSTM / torch.nn.GRU with batch_first=True:
  x                       input (B, T, I)
  w.<name>                the module's state_dict (weight_ih_l0, weight_hh_l0, bias_ih_l0, ..., *_reverse)
  h0, c0                  initial states (L * D, B, H), when the case has them
  lengths                 int64 (B) when the case is masked: the input goes through pack_padded_sequence and
                          the output through pad_packed_sequence (zeros at padded steps)
  y, h_n, c_n             outputs (c_n for the LSTM only)
  r.y, r.h_n, r.c_n       fixed random weights of the scalar loss sum(y * r.y) + sum(h_n * r.h_n) + sum(c_n * r.c_n)
  grad.<input>            its gradient for x, h0, c0 and every w.<name>
Metadata: kind (lstm | gru), hidden, layers, bidirectional.
"""
import os
import sys
import zlib

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save  # noqa: E402

CASES = [
    # name, kind, I, H, layers, bidirectional, B, T, initial state, lengths
    ("lstm_uni", "lstm", 3, 4, 1, False, 2, 5, True, None),
    ("lstm_bi_2layers", "lstm", 3, 4, 2, True, 3, 4, False, None),
    ("lstm_masked_bi", "lstm", 2, 3, 1, True, 3, 5, False, [5, 2, 4]),
    ("gru_uni", "gru", 3, 4, 1, False, 2, 5, True, None),
    ("gru_bi_2layers", "gru", 3, 4, 2, True, 3, 4, False, None),
    ("gru_masked_bi", "gru", 2, 3, 1, True, 3, 5, False, [5, 2, 4]),
]


def run_case(name, kind, I, H, L, bi, B, T, with_init, lengths, out_dir):
    torch.manual_seed(zlib.crc32(name.encode()))
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    m = cls(I, H, num_layers=L, bidirectional=bi, batch_first=True).double()
    D = 2 if bi else 1
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    inputs = {"x": x}
    init = None
    if with_init:
        h0 = torch.randn(L * D, B, H, dtype=torch.float64, requires_grad=True)
        inputs["h0"] = h0
        if kind == "lstm":
            c0 = torch.randn(L * D, B, H, dtype=torch.float64, requires_grad=True)
            inputs["c0"] = c0
            init = (h0, c0)
        else:
            init = h0
    if lengths is not None:
        packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, state = m(packed, init)
        y, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    else:
        y, state = m(x, init)
    h_n, c_n = (state if kind == "lstm" else (state, None))
    outs = {"y": y, "h_n": h_n}
    if c_n is not None:
        outs["c_n"] = c_n
    rs = {k: torch.randn(v.shape, dtype=torch.float64) for k, v in outs.items()}
    loss = sum((outs[k] * rs[k]).sum() for k in outs)
    params = dict(m.named_parameters())
    grads = torch.autograd.grad(loss, list(inputs.values()) + list(params.values()))
    t = {}
    t.update({k: v for k, v in inputs.items()})
    t.update({"w." + k: v for k, v in params.items()})
    if lengths is not None:
        t["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    t.update(outs)
    t.update({"r." + k: v for k, v in rs.items()})
    names = list(inputs) + ["w." + k for k in params]
    t.update({"grad." + n: g for n, g in zip(names, grads)})
    meta = {"kind": kind, "hidden": H, "layers": L, "bidirectional": int(bi)}
    save(os.path.join(out_dir, name + ".safetensors"), t, meta)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "golden", "rnn")
    os.makedirs(out_dir, exist_ok=True)
    for c in CASES:
        run_case(*c, out_dir)
        print("wrote", c[0])


if __name__ == "__main__":
    main()
