"""Reference for the training-parity test (tests/train/parity_test.cpp): PyTorch trains the reference MLP and CNN
for 50 SGD steps from saved initial weights on the first Fashion-MNIST training images in order (no shuffle), and
records every step's loss. Cairn loads the same weights, trains the same way, and must match each loss to 1e-4.

Run with Debian's interpreter: /usr/bin/python3 tools/golden/make_train_parity.py tests/golden/train
"""
import gzip
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

D = "/usr/share/datasets/fashion-mnist/"
STEPS, LR = 50, 0.05


def idx(path):
    b = gzip.open(path).read()
    magic, n = struct.unpack(">II", b[:8])
    if magic == 2051:
        r, c = struct.unpack(">II", b[8:16])
        return torch.frombuffer(bytearray(b[16:]), dtype=torch.uint8).view(n, 1, r, c)
    return torch.frombuffer(bytearray(b[8:]), dtype=torch.uint8).long()


def models():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    return {"mlp": (mlp, 64), "cnn": (cnn, 32)}


def main(out):
    torch.set_num_threads(1)
    X = idx(D + "train-images-idx3-ubyte.gz").float() / 255
    Y = idx(D + "train-labels-idx1-ubyte.gz")
    for name, (model, bs) in models().items():
        safetensors_io.save(os.path.join(out, f"{name}_init.safetensors"), model.state_dict(),
                            {"steps": STEPS, "lr": LR, "batch_size": bs})
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        losses = []
        for i in range(STEPS):
            x, y = X[i * bs:(i + 1) * bs], Y[i * bs:(i + 1) * bs]
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        safetensors_io.save(os.path.join(out, f"{name}_losses.safetensors"), {"losses": torch.tensor(losses, dtype=torch.float64)},
                            {"steps": STEPS, "lr": LR, "batch_size": bs})
        print(f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/train")
