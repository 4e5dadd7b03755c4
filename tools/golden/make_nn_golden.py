#!/usr/bin/python3
"""Writes the PyTorch reference files of Cairn's nn layer into tests/golden/nn/ (read by tests/nn/golden_test.cpp).

Run with Debian's python3-torch:   /usr/bin/python3 tools/golden/make_nn_golden.py [OUT_DIR]

  cnn_weights.safetensors   state_dict of a small torch.nn.Sequential CNN, exactly as a PyTorch user would save it
  cnn_io.safetensors        an input batch and that model's output in eval mode
  seq_weights.safetensors   state_dict of Embedding -> LayerNorm -> Linear -> GELU
  seq_io.safetensors        int64 token ids and that model's output
  losses.safetensors        inputs, targets, sample weights and the losses (and a gradient) torch computes for them

The Cairn models that must reproduce these outputs are spelled out next to each torch model below and in the test.
safetensors files are written with make_safetensors_ref.serialize (struct + json, no `safetensors` package needed),
tensors in state_dict order with metadata {"format": "pt"}: the same bytes Cairn's save_weights must produce.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors_ref import check, serialize  # noqa: E402

PT = {"format": "pt"}


def write(path, named, metadata):
    named = {k: v.detach().contiguous() for k, v in named.items()}
    blob = serialize(named, metadata)
    check(blob, named, metadata)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(f"wrote {path}: {len(blob)} bytes, {len(named)} tensors")


def cnn(out):
    # Cairn: [Conv2D(4, 3, "relu"), MaxPooling2D(2), Conv2D(6, 3, {padding "same"}), BatchNormalization(),
    #         Activation("relu"), AveragePooling2D(2), Flatten(), Dense(16, "tanh"), Dropout(0.5), Dense(5)]
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding="same"), nn.BatchNorm2d(6, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(24, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, 5))
    # Non-trivial running statistics: a few training batches (the big momentum makes them move), then eval.
    model.train()
    model[4].momentum = 0.5
    for _ in range(3):
        model(torch.randn(8, 1, 12, 12) * 2 + 0.5)
    model[4].momentum = 0.01
    with torch.no_grad():
        model[4].weight.uniform_(0.5, 1.5)
        model[4].bias.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():
        y = model(x)
    write(os.path.join(out, "cnn_weights.safetensors"), model.state_dict(), PT)
    write(os.path.join(out, "cnn_io.safetensors"), {"input": x, "output": y}, {"model": "cnn"})


def seq(out):
    # Cairn: [Embedding(20, 8), LayerNormalization(1e-3), Dense(4, "gelu")]
    model = nn.Sequential(nn.Embedding(20, 8), nn.LayerNorm(8, eps=1e-3), nn.Linear(8, 4), nn.GELU())
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    ids = torch.randint(0, 20, (2, 5), dtype=torch.int64)
    with torch.no_grad():
        y = model(ids)
    write(os.path.join(out, "seq_weights.safetensors"), model.state_dict(), PT)
    write(os.path.join(out, "seq_io.safetensors"), {"input": ids, "output": y}, {"model": "seq"})


def losses(out):
    d = torch.float64
    n, c = 6, 4
    t = {}
    # Regression: per-sample mean over the last axis, times the sample weight, mean over samples (Keras).
    pred, target, w = torch.randn(n, 3, dtype=d), torch.randn(n, 3, dtype=d), torch.rand(n, dtype=d)
    t.update(reg_pred=pred, reg_target=target, reg_weight=w)
    t["mse"] = (F.mse_loss(pred, target, reduction="none").mean(-1) * w).mean()
    t["mae"] = (F.l1_loss(pred, target, reduction="none").mean(-1) * w).mean()
    t["huber"] = (F.huber_loss(pred, target, reduction="none", delta=0.7).mean(-1) * w).mean()
    # Binary: logits include large magnitudes, where a naive formula overflows.
    logits = torch.tensor([[-60.0, -3.0, -0.5], [0.0, 0.5, 3.0], [60.0, 1.0, -1.0],
                           [2.0, -2.0, 0.1], [10.0, -10.0, 0.3], [-0.2, 0.2, 5.0]], dtype=d)
    z = torch.randint(0, 2, (n, 3)).to(d)
    t.update(bin_logits=logits, bin_target=z)
    t["bce_logits"] = F.binary_cross_entropy_with_logits(logits, z, reduction="none").mean(-1).mean()
    probs = torch.rand(n, 3, dtype=d) * 0.9 + 0.05
    t["bin_probs"] = probs
    t["bce_probs"] = F.binary_cross_entropy(probs, z, reduction="none").mean(-1).mean()
    # Categorical.
    x = torch.randn(n, c, dtype=d) * 2
    idx = torch.randint(0, c, (n,), dtype=torch.int64)
    onehot = F.one_hot(idx, c).to(d)
    t.update(cat_logits=x, cat_index=idx, cat_onehot=onehot, cat_weight=w)
    t["cce_logits_smooth"] = F.cross_entropy(x, onehot, label_smoothing=0.1, reduction="none").mean()
    p = torch.softmax(x, -1)
    t["cat_probs"] = p
    t["cce_probs"] = F.nll_loss(torch.log(p), idx, reduction="none").mean()
    x_req = x.clone().requires_grad_()
    scce = (F.cross_entropy(x_req, idx, reduction="none") * w).mean()
    scce.backward()
    t["scce_logits_weighted"] = scce.detach()
    t["scce_logits_weighted_grad"] = x_req.grad
    t["scce_probs"] = F.nll_loss(torch.log(p), idx, reduction="none").mean()
    # Class axis last (Keras): logits (N, T, C) and targets (N, T).
    x3 = torch.randn(2, 3, c, dtype=d)
    idx3 = torch.randint(0, c, (2, 3), dtype=torch.int64)
    t.update(seq_logits=x3, seq_index=idx3)
    t["scce_seq"] = F.cross_entropy(x3.permute(0, 2, 1), idx3, reduction="mean")
    write(os.path.join(out, "losses.safetensors"), t, {"source": "tools/golden/make_nn_golden.py"})


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests/golden/nn")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(20240611)
    cnn(out)
    seq(out)
    losses(out)


if __name__ == "__main__":
    main()
