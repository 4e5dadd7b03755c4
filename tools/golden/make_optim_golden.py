#!/usr/bin/python3
"""Writes tests/golden/optim/*.json, PyTorch's answers for Cairn's optim layer (tests/optim/).

Run with Debian's python3-torch 1.13:   /usr/bin/python3 tools/golden/make_optim_golden.py [OUT_DIR]

optimizers.json  For each case, two parameters (3x4 and 5) are trained on the quadratic
                 loss sum(0.5*a*p^2 + b*p), whose gradient a*p + b is set by hand (computed as the
                 two float ops (a*p) + b, which Cairn's test repeats), with torch.optim's
                 single-tensor path. Parameter 1 gets no gradient (grad = None) at the steps listed
                 in none_grad, so skipping is checked too. Some cases give parameter 1 its own group
                 (lr, weight_decay) and scale every group's lr mid-run (lr_factor_at: before that
                 step). Parameters are recorded after each step listed in `record`.
clip.json        clip_grad_norm_ (several norm types, clipping and not) and clip_grad_value_.
schedules.json   The lr of each parameter group after construction (step 0) and after each step of
                 StepLR, ExponentialLR, LambdaLR, CosineAnnealingLR, nanoGPT's warmup + cosine
                 (plain Python: torch has no such scheduler) and ReduceLROnPlateau.

Numbers are JSON doubles: float32 values convert to double exactly, and Python prints the
shortest repr that reads back to the same double, so nothing is lost.
"""
import json
import math
import os
import sys

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden",
                                                         "optim")
SHAPES = [[3, 4], [5]]


def torch_optimizer(name, params, options):
    """Cairn's option names -> torch.optim constructor."""
    o = dict(options)
    kw = {}
    if "beta1" in o or "beta2" in o:
        kw["betas"] = (o.pop("beta1", 0.9), o.pop("beta2", 0.999))
    for k in ("nesterov", "amsgrad", "centered"):
        if k in o:
            kw[k] = bool(o.pop(k))
    kw.update(o)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[name]
    return cls(params, **kw)


def run_case(case, seed):
    dtype = torch.float64 if case["dtype"] == "float64" else torch.float32
    gen = torch.Generator().manual_seed(seed)
    init = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in SHAPES]
    a = [(0.5 + 1.5 * torch.rand(s, generator=gen, dtype=torch.float64)).to(dtype) for s in SHAPES]
    b = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in SHAPES]
    params = [p.clone().requires_grad_() for p in init]
    if case.get("group1"):
        groups = [{"params": [params[0]]}, dict({"params": [params[1]]}, **case["group1"])]
    else:
        groups = params
    opt = torch_optimizer(case["optimizer"], groups, case["options"])
    none_grad = {tuple(x) for x in case.get("none_grad", [])}
    record = case.get("record", list(range(1, case["steps"] + 1)))
    expected = []
    for step in range(1, case["steps"] + 1):
        factor = case.get("lr_factor_at", {}).get(str(step))
        if factor is not None:
            for g in opt.param_groups:
                g["lr"] = g["lr"] * factor
        with torch.no_grad():
            for i, p in enumerate(params):
                p.grad = None if (step, i) in none_grad else (a[i] * p) + b[i]
        opt.step()
        if step in record:
            expected.append([p.detach().flatten().tolist() for p in params])
    out = dict(case)
    out.update({"shapes": SHAPES, "record": record,
                "init": [t.flatten().tolist() for t in init],
                "a": [t.flatten().tolist() for t in a],
                "b": [t.flatten().tolist() for t in b],
                "expected": expected})
    return out


OPTIMIZER_CASES = [
    {"name": "sgd_plain", "optimizer": "sgd", "options": {"lr": 0.1}},
    {"name": "sgd_momentum", "optimizer": "sgd", "options": {"lr": 0.05, "momentum": 0.9}},
    {"name": "sgd_dampening_wd", "optimizer": "sgd",
     "options": {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}},
    {"name": "sgd_nesterov", "optimizer": "sgd",
     "options": {"lr": 0.05, "momentum": 0.9, "nesterov": 1, "weight_decay": 0.05}},
    {"name": "adam_default", "optimizer": "adam", "options": {}},
    {"name": "adam_lr", "optimizer": "adam", "options": {"lr": 0.05}},
    {"name": "adam_wd_amsgrad", "optimizer": "adam",
     "options": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1, "amsgrad": 1}},
    {"name": "adam_groups", "optimizer": "adam", "options": {"lr": 0.01, "weight_decay": 0.05},
     "group1": {"lr": 0.1, "weight_decay": 0.0}, "lr_factor_at": {"4": 0.5}},
    {"name": "adamw_default", "optimizer": "adamw", "options": {"lr": 0.05}},
    {"name": "adamw_amsgrad", "optimizer": "adamw",
     "options": {"lr": 0.05, "beta1": 0.85, "beta2": 0.99, "weight_decay": 0.3, "amsgrad": 1}},
    {"name": "adamw_groups", "optimizer": "adamw", "options": {"lr": 0.05, "weight_decay": 0.1},
     "group1": {"weight_decay": 0.0, "lr": 0.02}, "lr_factor_at": {"3": 0.1}},
    {"name": "rmsprop_default", "optimizer": "rmsprop", "options": {}},
    {"name": "rmsprop_centered_momentum", "optimizer": "rmsprop",
     "options": {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "centered": 1, "weight_decay": 0.01}},
    {"name": "rmsprop_momentum", "optimizer": "rmsprop", "options": {"lr": 0.005, "momentum": 0.5, "eps": 1e-4}},
    {"name": "adagrad_default", "optimizer": "adagrad", "options": {"lr": 0.1}},
    {"name": "adagrad_decay", "optimizer": "adagrad",
     "options": {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.5, "weight_decay": 0.01, "eps": 1e-8}},
    {"name": "sgd_nesterov_f64", "optimizer": "sgd", "dtype": "float64",
     "options": {"lr": 0.05, "momentum": 0.9, "nesterov": 1, "weight_decay": 0.05}},
    {"name": "adam_amsgrad_f64", "optimizer": "adam", "dtype": "float64",
     "options": {"lr": 0.02, "beta2": 0.9, "weight_decay": 0.1, "amsgrad": 1}},
    {"name": "adamw_f64", "optimizer": "adamw", "dtype": "float64", "options": {"lr": 0.05}},
    {"name": "rmsprop_centered_f64", "optimizer": "rmsprop", "dtype": "float64",
     "options": {"lr": 0.01, "momentum": 0.5, "centered": 1}},
    {"name": "adagrad_f64", "optimizer": "adagrad", "dtype": "float64",
     "options": {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}},
    # 50 steps: the drift between the two implementations must stay small over a real run.
    {"name": "adam_long", "optimizer": "adam", "options": {"lr": 0.01, "weight_decay": 0.01}, "steps": 50,
     "record": [10, 20, 30, 40, 50], "tol": 2e-5},
    {"name": "sgd_long", "optimizer": "sgd", "options": {"lr": 0.05, "momentum": 0.9}, "steps": 50,
     "record": [10, 20, 30, 40, 50], "tol": 2e-5},
]


def optimizer_cases():
    out = []
    for i, case in enumerate(OPTIMIZER_CASES):
        case = dict(case)
        case.setdefault("dtype", "float32")
        case.setdefault("steps", 6)
        case.setdefault("none_grad", [[4, 1]])
        case.setdefault("tol", 1e-6 if case["dtype"] == "float32" else 1e-12)
        out.append(run_case(case, 1000 + i))
    return out


def clip_cases():
    gen = torch.Generator().manual_seed(7)
    grads = [(3 * torch.randn(s, generator=gen, dtype=torch.float64)).float() for s in [[4, 3], [6], [2, 2]]]
    out = []
    for norm_type in [2.0, 1.0, 3.0, math.inf]:
        for max_norm in [1.0, 1000.0]:
            params = [torch.zeros_like(g, requires_grad=True) for g in grads]
            for p, g in zip(params, grads):
                p.grad = g.clone()
            params[2].grad = None  # skipped
            total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
            out.append({"kind": "norm", "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                        "max_norm": max_norm, "total_norm": float(total),
                        "clipped": [p.grad.flatten().tolist() for p in params[:2]]})
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_value_(params, 2.5)
    out.append({"kind": "value", "clip_value": 2.5, "clipped": [p.grad.flatten().tolist() for p in params]})
    return {"shapes": [[4, 3], [6], [2, 2]], "grads": [g.flatten().tolist() for g in grads], "cases": out}


def lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def schedule_cases():
    def fresh(lrs_):
        ps = [torch.zeros(1, requires_grad=True) for _ in lrs_]
        return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs_)], lr=lrs_[0])

    out = []

    def record(name, opt, sched, n, **info):
        seq = [lrs(opt)]
        for _ in range(n):
            opt.step()
            sched.step()
            seq.append(lrs(opt))
        out.append(dict(name=name, group_lrs=seq, **info))

    opt = fresh([0.1, 1.0])
    record("step", opt, torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), 12, step_size=3, gamma=0.5)
    opt = fresh([0.1, 0.3])
    record("exponential", opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9), 12, gamma=0.9)
    opt = fresh([0.1, 0.2])
    # Cairn's test uses the same function: 1 / (1 + 0.5 * epoch).
    record("lambda", opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 / (1.0 + 0.5 * e)), 8)
    opt = fresh([0.1, 0.2])
    record("cosine", opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3), 10,
           total_steps=10, min_lr=1e-3)

    # nanoGPT's get_lr (train.py), with lr = max_lr * it / warmup during warmup as Cairn documents.
    max_lr, min_lr, warmup, total = 6e-4, 6e-5, 5, 20

    def nanogpt_lr(it):
        if it < warmup:
            return max_lr * it / warmup
        if it > total:
            return min_lr
        ratio = (it - warmup) / (total - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)

    out.append({"name": "warmup_cosine", "base_lr": max_lr, "min_lr": min_lr, "warmup_steps": warmup,
                "total_steps": total, "group_lrs": [[nanogpt_lr(i)] for i in range(total + 6)]})

    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.7, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
               0.9, 0.9, 0.9, float("nan"), 0.9, 0.9]
    plateau_cases = [
        {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-4, "threshold_mode": "rel", "cooldown": 1,
         "min_lr": 0.02, "lrs": [0.1, 1.0]},
        {"mode": "max", "factor": 0.1, "patience": 1, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 0,
         "min_lr": 0.0, "lrs": [0.1, 0.5]},
        {"mode": "min", "factor": 0.3, "patience": 0, "threshold": 0.2, "threshold_mode": "abs", "cooldown": 2,
         "min_lr": 1e-3, "lrs": [0.1]},
    ]
    for i, c in enumerate(plateau_cases):
        opt = fresh(c["lrs"])
        kw = {k: v for k, v in c.items() if k != "lrs"}
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        seq = [lrs(opt)]
        for m in metrics:
            sched.step(m)
            seq.append(lrs(opt))
        out.append(dict(name="plateau_%d" % i, metrics=[m if m == m else "nan" for m in metrics], group_lrs=seq,
                        **c))
    return out


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    torch.set_num_threads(1)
    write("optimizers.json", {"torch_version": torch.__version__, "cases": optimizer_cases()})
    write("clip.json", dict(torch_version=torch.__version__, **clip_cases()))
    write("schedules.json", {"torch_version": torch.__version__, "cases": schedule_cases()})
