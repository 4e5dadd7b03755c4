"""The cases of Cairn's core golden files: one function per op of src/cairn/core/ops/ops.h, returning its cases.

Each Case has a name, float64 inputs (integer inputs as int64/int32, masks as uint8), the PyTorch call, the
inputs to differentiate (default: every floating input) and the inputs the call updates in place. The C++ tests
(tests/core/golden_*test.cpp) make the same calls under the same case names; a case present on one side only
fails the test, so the two stay in step.

Inputs keep away from kinks (relu and abs at 0, clamp at its bounds, ties of max-like ops) except in the cases
named "ties", which pin down the tie-breaking rule itself. Sizes stay small so each file is a few KB.
"""
import zlib

import torch
import torch.nn.functional as F

F64 = torch.float64


class Case:
    def __init__(self, name, inputs, fn, grad=None, mutated=(), pass_dtype=False):
        self.name = name
        self.pass_dtype = pass_dtype  # fn(dtype=torch.float64 or float32, ...): creation ops
        self.inputs = inputs
        self.fn = fn
        self.grad = [k for k, v in inputs.items() if v.is_floating_point()] if grad is None else list(grad)
        self.mutated = list(mutated)


def gen(op):
    return torch.Generator().manual_seed(zlib.crc32(op.encode()))


# ---- input makers (float64) ----

def U(g, shape, lo=-1.0, hi=1.0):
    return torch.rand(shape, generator=g, dtype=F64) * (hi - lo) + lo


def pos(g, shape):
    return U(g, shape, 0.5, 2.0)


def away(g, shape):
    """Magnitudes in [0.2, 1.2) with random signs (off the kink at 0)."""
    m = U(g, shape, 0.2, 1.2)
    s = (torch.rand(shape, generator=g) < 0.5).to(F64) * -2 + 1
    return m * s


def grid(g, shape, offset):
    """0.1 * k + offset, k in [-10, 10): tensors with offsets 0 and 0.05 never tie."""
    return torch.randint(-10, 10, shape, generator=g).to(F64) * 0.1 + offset


def distinct(g, shape):
    """Pairwise distinct values, at least 0.07 apart."""
    n = 1
    for d in shape:
        n *= d
    perm = torch.randperm(n, generator=g).to(F64)
    return (perm * 0.1 + U(g, (n,), 0.0, 0.03) - 0.05 * n).reshape(shape)


def avoiding(g, shape, lo, hi, points, gap=0.05):
    x = U(g, shape, lo, hi)
    for p in points:
        near = (x - p).abs() < gap
        x = torch.where(near, torch.where(x < p, x - 2 * gap, x + 2 * gap), x)
    return x


def ints(g, lo, hi, shape, dtype=torch.int64):
    return torch.randint(lo, hi, shape, generator=g).to(dtype)


def mask(g, shape):
    return (torch.rand(shape, generator=g) < 0.5).to(torch.uint8)


# ---- creation ----

def arange_cases():
    return [
        Case("int64", {}, lambda dtype: torch.arange(0, 5, 1, dtype=torch.int64), pass_dtype=True),
        Case("fractional_step", {}, lambda dtype: torch.arange(0, 1, 0.25, dtype=dtype), pass_dtype=True),
        Case("negative_step", {}, lambda dtype: torch.arange(5, 0, -1.5, dtype=dtype), pass_dtype=True),
        Case("partial_last_step", {}, lambda dtype: torch.arange(-1, 1, 0.3, dtype=dtype), pass_dtype=True),
        Case("empty", {}, lambda dtype: torch.arange(3, 3, 1, dtype=dtype), pass_dtype=True),
    ]


# ---- elementwise ----

BINARY_SHAPES = [("same", (3, 4), (3, 4)), ("bcast_col_row", (3, 1), (1, 4)), ("bcast_trailing", (2, 3, 4), (4,)),
                 ("bcast_leading", (4,), (2, 3, 4)), ("scalar_b", (2, 3), ()), ("scalar_a", (), (2, 3))]


def binary(op, fn, make_a=U, make_b=U):
    def cases():
        g = gen(op)
        return [Case(n, {"a": make_a(g, sa), "b": make_b(g, sb)}, fn) for n, sa, sb in BINARY_SHAPES]
    return cases


def grid0(g, s):
    return grid(g, s, 0.0)


def grid5(g, s):
    return grid(g, s, 0.05)


def minmax_cases(fn):
    def cases():
        g = gen("maximum" if fn is torch.maximum else "minimum")
        cs = [Case(n, {"a": grid0(g, sa), "b": grid5(g, sb)}, fn) for n, sa, sb in BINARY_SHAPES]
        # Ties: half the gradient to each side.
        a = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]], dtype=F64)
        b = torch.tensor([[1.0, 5.0, 0.0], [0.5, -1.0, 7.0]], dtype=F64)
        cs.append(Case("ties", {"a": a, "b": b}, fn))
        return cs
    return cases


def scalar_op(op, fn, make=U):
    def cases():
        g = gen(op)
        return [Case("matrix", {"x": make(g, (3, 4))}, fn), Case("scalar_tensor", {"x": make(g, ())}, fn)]
    return cases


def unary(op, fn, make=U):
    def cases():
        g = gen(op)
        cs = [Case("matrix", {"x": make(g, (3, 4))}, fn), Case("scalar_tensor", {"x": make(g, ())}, fn)]
        cs.append(Case("transposed", {"x": make(g, (4, 3))}, lambda x: fn(x.t())))
        return cs
    return cases


def pow_cases():
    g = gen("pow")
    return [
        Case("scalar_3", {"x": U(g, (3, 4))}, lambda x: torch.pow(x, 3.0)),
        Case("scalar_2_5", {"x": pos(g, (3, 4))}, lambda x: torch.pow(x, 2.5)),
        Case("scalar_neg_1_5", {"x": pos(g, (3, 4))}, lambda x: torch.pow(x, -1.5)),
        Case("scalar_0_5", {"x": pos(g, (3, 4))}, lambda x: torch.pow(x, 0.5)),
        Case("tensor_same", {"x": pos(g, (3, 4)), "e": U(g, (3, 4), -2, 2)}, torch.pow),
        Case("tensor_bcast_col_row", {"x": pos(g, (3, 1)), "e": U(g, (1, 4), -2, 2)}, torch.pow),
        Case("tensor_bcast_trailing", {"x": pos(g, (2, 3, 4)), "e": U(g, (4,), -2, 2)}, torch.pow),
        Case("tensor_scalar_e", {"x": pos(g, (2, 3)), "e": U(g, (), -2, 2)}, torch.pow),
    ]


def clamp_cases():
    g = gen("clamp")
    x = avoiding(g, (4, 5), -1, 1, [-0.3, 0.4])
    return [
        Case("lo", {"x": x}, lambda x: torch.clamp(x, min=-0.3)),
        Case("hi", {"x": x}, lambda x: torch.clamp(x, max=0.4)),
        Case("both", {"x": x}, lambda x: torch.clamp(x, min=-0.3, max=0.4)),
    ]


def compare_cases():
    g = gen("compare")
    a, b = grid(g, (3, 4), 0.0) * 0.5, grid(g, (4,), 0.0) * 0.5  # coarse grid: ties do occur
    cs = []
    for name, fn in [("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le), ("gt", torch.gt),
                     ("ge", torch.ge)]:
        cs.append(Case(name, {"a": a, "b": b}, fn, grad=[]))
    cs.append(Case("gt_scalar", {"a": a}, lambda a: torch.gt(a, 0.1), grad=[]))
    cs.append(Case("lt_scalar", {"a": a}, lambda a: torch.lt(a, 0.1), grad=[]))
    return cs


def where_cases():
    g = gen("where")
    w = lambda c, a, b: torch.where(c.bool(), a, b)
    return [
        Case("same", {"c": mask(g, (3, 4)), "a": U(g, (3, 4)), "b": U(g, (3, 4))}, w),
        Case("bcast_b", {"c": mask(g, (3, 4)), "a": U(g, (3, 4)), "b": U(g, (4,))}, w),
        Case("bcast_all", {"c": mask(g, (3, 1)), "a": U(g, (1, 4)), "b": U(g, ())}, w),
        Case("bcast_to_3d", {"c": mask(g, (3, 4)), "a": U(g, (3, 1)), "b": U(g, (2, 3, 4))}, w),
    ]


def masked_fill_cases():
    g = gen("masked_fill")
    return [
        Case("same", {"x": U(g, (3, 4)), "m": mask(g, (3, 4))}, lambda x, m: x.masked_fill(m.bool(), -7.0)),
        Case("bcast_mask", {"x": U(g, (2, 3, 4)), "m": mask(g, (3, 1))}, lambda x, m: x.masked_fill(m.bool(), 2.0)),
        Case("neg_inf", {"x": U(g, (3, 4)), "m": mask(g, (1, 4))}, lambda x, m: x.masked_fill(m.bool(), float("-inf"))),
    ]


# ---- activations ----

def activation(op, fn, make=lambda g, s: U(g, s, -3, 3)):
    def cases():
        g = gen(op)
        return [Case("matrix", {"x": make(g, (3, 5))}, fn), Case("3d", {"x": make(g, (2, 3, 4))}, fn)]
    return cases


def leaky_relu_cases():
    g = gen("leaky_relu")
    return [Case("default_slope", {"x": away(g, (3, 5))}, F.leaky_relu),
            Case("slope_0_2", {"x": away(g, (3, 5))}, lambda x: F.leaky_relu(x, 0.2))]


def gelu_cases():
    g = gen("gelu")
    return [Case("exact", {"x": U(g, (3, 5), -4, 4)}, F.gelu),
            Case("tanh", {"x": U(g, (3, 5), -4, 4)}, lambda x: F.gelu(x, approximate="tanh"))]


def softplus_cases():
    g = gen("softplus")
    return [Case("default", {"x": U(g, (3, 5), -4, 4)}, F.softplus),
            Case("beta2_threshold5", {"x": avoiding(g, (3, 5), -2, 5, [2.5], 0.1)}, lambda x: F.softplus(x, 2.0, 5.0)),
            Case("large", {"x": U(g, (2, 3), 15, 30)}, F.softplus)]


# ---- reductions ----

REDUCE_DIMS = [("all", None, False), ("all_keepdim", None, True), ("d0", (0,), False), ("d1_keepdim", (1,), True),
               ("dlast", (-1,), False), ("d02", (0, 2), False), ("d02_keepdim", (0, 2), True), ("d12", (1, 2), False)]


def dims_of(x, d):
    return tuple(range(x.dim())) if d is None else d


def reduction(op, fn, make=U):
    def cases():
        g = gen(op)
        x = make(g, (2, 3, 4))
        return [Case(n, {"x": x}, (lambda d, k: lambda x: fn(x, dims_of(x, d), k))(d, k)) for n, d, k in REDUCE_DIMS]
    return cases


def var_cases():
    g = gen("var")
    x = U(g, (2, 3, 4))
    cs = []
    for n, d, k in REDUCE_DIMS:
        for unbiased in (True, False):
            f = (lambda d, k, u: lambda x: torch.var(x, dims_of(x, d), unbiased=u, keepdim=k))(d, k, unbiased)
            cs.append(Case(n + ("" if unbiased else "_correction0"), {"x": x}, f))
    return cs


def std_cases():
    g = gen("std")
    x = U(g, (2, 3, 4))
    cs = []
    for n, d, k in REDUCE_DIMS:
        for unbiased in (True, False):
            f = (lambda d, k, u: lambda x: torch.std(x, dims_of(x, d), unbiased=u, keepdim=k))(d, k, unbiased)
            cs.append(Case(n + ("" if unbiased else "_correction0"), {"x": x}, f))
    return cs


def logsumexp_cases():
    cs = reduction("logsumexp", torch.logsumexp, lambda g, s: U(g, s, -3, 3))()
    g = gen("logsumexp/extra")
    cs.append(Case("large_values", {"x": U(g, (3, 4)) + 800}, lambda x: torch.logsumexp(x, (1,))))
    x = U(g, (3, 4))
    x[1, :] = float("-inf")
    cs.append(Case("neg_inf_row", {"x": x}, lambda x: torch.logsumexp(x, (1,)), grad=[]))
    return cs


def amax_like(op, fn):
    def cases():
        cs = reduction(op, fn, distinct)()
        cs.append(Case("ties", {"x": torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=F64)},
                       lambda x: fn(x, (1,), False)))
        return cs
    return cases


def max_like(op, fn):
    def cases():
        g = gen(op)
        x = distinct(g, (2, 3, 4))
        cs = []
        for dim in (0, 1, 2, -1):
            for k in (False, True):
                name = f"d{dim if dim >= 0 else 'last'}" + ("_keepdim" if k else "")
                cs.append(Case(name, {"x": x}, (lambda dim, k: lambda x: fn(x, dim, k))(dim, k)))
        return cs
    return cases


def arg_like(op, fn):
    def cases():
        g = gen(op)
        x = distinct(g, (2, 3, 4))
        cs = [Case(f"d{d}" + ("_keepdim" if k else ""), {"x": x}, (lambda d, k: lambda x: fn(x, d, k))(d, k), grad=[])
              for d in (0, 1, 2) for k in (False, True)]
        # Ties: the first occurrence wins.
        t = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]], dtype=F64)
        cs.append(Case("ties", {"x": t}, lambda x: fn(x, 1, False), grad=[]))
        return cs
    return cases


# ---- matmul, linear ----

def matmul_cases():
    g = gen("matmul")
    # (M, K) @ (K, N) with M = 2, K = 3, N = 4, batches of 2 (and 3 for a broadcast dim).
    shapes = [("2d", (2, 3), (3, 4)), ("batched", (2, 2, 3), (2, 3, 4)), ("bcast_batch", (2, 1, 2, 3), (3, 3, 4)),
              ("bcast_batch_left", (1, 2, 3), (2, 3, 4)), ("3d_2d", (2, 2, 3), (3, 4)), ("2d_3d", (2, 3), (2, 3, 4)),
              ("1d_2d", (3,), (3, 4)), ("2d_1d", (2, 3), (3,)), ("1d_1d", (3,), (3,)), ("1d_3d", (3,), (2, 3, 4)),
              ("3d_1d", (2, 2, 3), (3,))]
    cs = [Case(n, {"a": U(g, sa), "b": U(g, sb)}, torch.matmul) for n, sa, sb in shapes]
    cs.append(Case("a_transposed", {"a": U(g, (3, 2)), "b": U(g, (3, 4))}, lambda a, b: a.t() @ b))
    cs.append(Case("b_transposed", {"a": U(g, (2, 3)), "b": U(g, (4, 3))}, lambda a, b: a @ b.t()))
    cs.append(Case("both_transposed_batched", {"a": U(g, (2, 3, 2)), "b": U(g, (2, 4, 3))},
                   lambda a, b: a.transpose(1, 2) @ b.transpose(1, 2)))
    return cs


def linear_cases():
    g = gen("linear")
    return [
        Case("bias", {"x": U(g, (5, 4)), "w": U(g, (3, 4)), "b": U(g, (3,))}, F.linear),
        Case("no_bias", {"x": U(g, (5, 4)), "w": U(g, (3, 4))}, F.linear),
        Case("3d_input", {"x": U(g, (2, 5, 4)), "w": U(g, (3, 4)), "b": U(g, (3,))}, F.linear),
        Case("1d_input", {"x": U(g, (4,)), "w": U(g, (3, 4)), "b": U(g, (3,))}, F.linear),
        # Cairn's fused activation (Dense(activation="relu")): relu(linear(x))
        Case("relu", {"x": U(g, (5, 4)), "w": U(g, (3, 4)), "b": U(g, (3,))}, lambda x, w, b: F.relu(F.linear(x, w, b))),
    ]


# ---- views and layout ----

def view_op(op, *named_fns):
    def cases():
        g = gen(op)
        x = U(g, (2, 3, 4))
        return [Case(n, {"x": x}, f) for n, f in named_fns]
    return cases


def expand_cases():
    g = gen("expand")
    return [Case("col", {"x": U(g, (3, 1))}, lambda x: x.expand(2, 3, 4)),
            Case("keep_minus_one", {"x": U(g, (3, 1))}, lambda x: x.expand(2, -1, 4)),
            Case("scalar", {"x": U(g, ())}, lambda x: x.expand(2, 3))]


def to_dtype_cases():
    g = gen("to_dtype")
    other = lambda x: x.to(torch.float32 if x.dtype == F64 else F64)
    return [Case("other_float", {"x": U(g, (3, 4))}, other),
            Case("to_int64", {"x": U(g, (3, 4), -5, 5)}, lambda x: x.to(torch.int64), grad=[]),
            Case("same", {"x": U(g, (3, 4))}, lambda x: x.to(x.dtype))]


def concat_cases():
    g = gen("concat")
    return [
        Case("dim1", {"a": U(g, (2, 1, 4)), "b": U(g, (2, 3, 4)), "c": U(g, (2, 2, 4))},
             lambda a, b, c: torch.cat([a, b, c], 1)),
        Case("dim_last", {"a": U(g, (3, 2)), "b": U(g, (3, 1))}, lambda a, b: torch.cat([a, b], -1)),
        Case("dim0_transposed", {"a": U(g, (4, 3)), "b": U(g, (2, 4))}, lambda a, b: torch.cat([a.t(), b], 0)),
    ]


def stack_cases():
    g = gen("stack")
    ins = {"a": U(g, (3, 4)), "b": U(g, (3, 4)), "c": U(g, (3, 4))}
    return [Case(f"dim{d if d >= 0 else 'last'}", ins, (lambda d: lambda a, b, c: torch.stack([a, b, c], d))(d))
            for d in (0, 1, -1)]


def split_cases():
    g = gen("split")
    x = U(g, (7, 3))
    return [Case("rows_3", {"x": x}, lambda x: torch.split(x, 3, 0)),
            Case("cols_2", {"x": x}, lambda x: torch.split(x, 2, 1))]


def chunk_cases():
    g = gen("chunk")
    return [Case("rows_3", {"x": U(g, (7, 3))}, lambda x: torch.chunk(x, 3, 0)),
            Case("six_in_4", {"x": U(g, (2, 6))}, lambda x: torch.chunk(x, 4, 1))]


def sum_to_cases():
    g = gen("sum_to")
    x = U(g, (2, 3, 4))
    return [Case("col", {"x": x}, lambda x: x.sum_to_size(3, 1)),
            Case("trailing", {"x": x}, lambda x: x.sum_to_size(4)),
            Case("keep_ones", {"x": x}, lambda x: x.sum_to_size(1, 3, 1)),
            Case("same", {"x": x}, lambda x: x.sum_to_size(2, 3, 4))]


# ---- indexing ----

def index_select_cases():
    g = gen("index_select")
    return [
        Case("dim0_repeats", {"x": U(g, (4, 3)), "i": torch.tensor([2, 0, 2, 3])}, lambda x, i: torch.index_select(x, 0, i)),
        Case("dim1", {"x": U(g, (4, 3)), "i": torch.tensor([1, 1, 0])}, lambda x, i: torch.index_select(x, 1, i)),
        Case("dim_last_3d", {"x": U(g, (2, 3, 4)), "i": torch.tensor([3, 0])}, lambda x, i: torch.index_select(x, -1, i)),
        Case("int32", {"x": U(g, (4, 3)), "i": torch.tensor([3, 1], dtype=torch.int32)},
             lambda x, i: torch.index_select(x, 0, i)),
    ]


def gather_cases():
    g = gen("gather")
    return [
        Case("dim1", {"x": U(g, (3, 4)), "i": ints(g, 0, 4, (3, 2))}, lambda x, i: torch.gather(x, 1, i)),
        Case("dim0_repeats", {"x": U(g, (3, 4)), "i": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 0]])},
             lambda x, i: torch.gather(x, 0, i)),
        Case("3d_dim_last", {"x": U(g, (2, 3, 4)), "i": ints(g, 0, 4, (2, 3, 5))}, lambda x, i: torch.gather(x, -1, i)),
        Case("index_smaller", {"x": U(g, (3, 4)), "i": ints(g, 0, 4, (2, 3))}, lambda x, i: torch.gather(x, 1, i)),
    ]


def scatter_add_cases():
    g = gen("scatter_add")
    return [
        Case("dim1_repeats", {"x": U(g, (3, 5)), "i": torch.tensor([[0, 0], [4, 1], [2, 2]]), "src": U(g, (3, 2))},
             lambda x, i, src: torch.scatter_add(x, 1, i, src)),
        Case("dim0", {"x": U(g, (3, 4)), "i": ints(g, 0, 3, (2, 4)), "src": U(g, (2, 4))},
             lambda x, i, src: torch.scatter_add(x, 0, i, src)),
    ]


# ---- softmax and losses ----

def softmax_like(op, fn):
    def cases():
        g = gen(op)
        x = U(g, (2, 3, 4), -3, 3)
        cs = [Case(f"d{d if d >= 0 else 'last'}", {"x": x}, (lambda d: lambda x: fn(x, d))(d)) for d in (-1, 0, 1)]
        cs.append(Case("large_values", {"x": U(g, (3, 4), -50, 50) + 1000}, lambda x: fn(x, -1)))
        cs.append(Case("2d_dim0", {"x": U(g, (5, 3), -3, 3)}, lambda x: fn(x, 0)))
        return cs
    return cases


def cross_entropy_cases():
    g = gen("cross_entropy")
    N, C = 6, 4
    logits = lambda: U(g, (N, C), -3, 3)
    target = lambda: ints(g, 0, C, (N,))
    ignored = torch.tensor([0, -100, 3, 1, -100, 2])
    with_one = torch.tensor([0, 1, 3, 1, 2, 2])
    weight = pos(g, (C,))
    ce = F.cross_entropy
    return [
        Case("mean", {"x": logits(), "t": target()}, lambda x, t: ce(x, t)),
        Case("sum", {"x": logits(), "t": target()}, lambda x, t: ce(x, t, reduction="sum")),
        Case("none", {"x": logits(), "t": target()}, lambda x, t: ce(x, t, reduction="none")),
        Case("weight", {"x": logits(), "t": target(), "w": weight}, lambda x, t, w: ce(x, t, weight=w), grad=["x"]),
        Case("weight_sum", {"x": logits(), "t": target(), "w": weight},
             lambda x, t, w: ce(x, t, weight=w, reduction="sum"), grad=["x"]),
        Case("ignore_default", {"x": logits(), "t": ignored}, lambda x, t: ce(x, t)),
        Case("ignore_1", {"x": logits(), "t": with_one}, lambda x, t: ce(x, t, ignore_index=1)),
        Case("smoothing", {"x": logits(), "t": target()}, lambda x, t: ce(x, t, label_smoothing=0.1)),
        Case("smoothing_sum", {"x": logits(), "t": target()}, lambda x, t: ce(x, t, label_smoothing=0.1, reduction="sum")),
        Case("smoothing_weight", {"x": logits(), "t": target(), "w": weight},
             lambda x, t, w: ce(x, t, weight=w, label_smoothing=0.2), grad=["x"]),
        Case("smoothing_ignore", {"x": logits(), "t": ignored}, lambda x, t: ce(x, t, label_smoothing=0.2)),
        Case("weight_ignore_smoothing_none", {"x": logits(), "t": ignored, "w": weight},
             lambda x, t, w: ce(x, t, weight=w, label_smoothing=0.1, reduction="none"), grad=["x"]),
        Case("weight_ignore_mean", {"x": logits(), "t": ignored, "w": weight},
             lambda x, t, w: ce(x, t, weight=w), grad=["x"]),
        Case("spatial", {"x": U(g, (2, 3, 2, 2), -3, 3), "t": ints(g, 0, 3, (2, 2, 2))}, lambda x, t: ce(x, t)),
        Case("spatial_none", {"x": U(g, (2, 3, 2, 2), -3, 3), "t": ints(g, 0, 3, (2, 2, 2))},
             lambda x, t: ce(x, t, reduction="none")),
    ]


# ---- convolution and pooling ----

def conv2d_cases():
    g = gen("conv2d")
    x = lambda c=2: U(g, (2, c, 4, 5))  # H != W catches swapped axes
    w = lambda o, c, kh, kw: U(g, (o, c, kh, kw))
    b = lambda o: U(g, (o,))
    cv = F.conv2d
    return [
        Case("basic", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)}, lambda x, w, b: cv(x, w, b)),
        Case("no_bias", {"x": x(), "w": w(2, 2, 3, 3)}, lambda x, w: cv(x, w)),
        Case("stride2", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)}, lambda x, w, b: cv(x, w, b, stride=2)),
        Case("padding1", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)}, lambda x, w, b: cv(x, w, b, padding=1)),
        Case("stride2_padding1", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)},
             lambda x, w, b: cv(x, w, b, stride=2, padding=1)),
        Case("asymmetric", {"x": x(), "w": w(2, 2, 2, 3), "b": b(2)},
             lambda x, w, b: cv(x, w, b, stride=(2, 1), padding=(1, 0))),
        Case("dilation2", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)},
             lambda x, w, b: cv(x, w, b, padding=2, dilation=2)),
        Case("same", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)}, lambda x, w, b: cv(x, w, b, padding="same")),
        Case("same_even_kernel", {"x": x(), "w": w(2, 2, 2, 4), "b": b(2)},
             lambda x, w, b: cv(x, w, b, padding="same")),
        Case("same_dilation2", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)},
             lambda x, w, b: cv(x, w, b, padding="same", dilation=2)),
        Case("groups2", {"x": x(4), "w": w(4, 2, 3, 3), "b": b(4)}, lambda x, w, b: cv(x, w, b, groups=2)),
        Case("depthwise", {"x": x(2), "w": w(4, 1, 3, 3), "b": b(4)},
             lambda x, w, b: cv(x, w, b, padding=1, groups=2)),
        Case("pointwise", {"x": x(), "w": w(3, 2, 1, 1), "b": b(3)}, lambda x, w, b: cv(x, w, b)),
        # Cairn's fused activation (Conv2D(activation="relu")): relu(conv2d(x)); 16 input channels take oneDNN's
        # kernels in float32
        Case("relu", {"x": x(), "w": w(2, 2, 3, 3), "b": b(2)}, lambda x, w, b: F.relu(cv(x, w, b))),
        Case("relu_16ch", {"x": U(g, (2, 16, 5, 6)), "w": w(4, 16, 3, 3), "b": b(4)}, lambda x, w, b: F.relu(cv(x, w, b))),
    ]


def max_pool2d_cases():
    g = gen("max_pool2d")
    x = lambda: distinct(g, (2, 1, 5, 6))
    mp = F.max_pool2d
    return [
        Case("k2", {"x": x()}, lambda x: mp(x, 2)),
        Case("k2_s1", {"x": x()}, lambda x: mp(x, 2, 1)),
        Case("k3_s2_p1", {"x": x()}, lambda x: mp(x, 3, 2, 1)),
        Case("k3_s2_ceil", {"x": x()}, lambda x: mp(x, 3, 2, 0, ceil_mode=True)),
        Case("k3_s2_p1_ceil", {"x": distinct(g, (1, 1, 7, 7))}, lambda x: mp(x, 3, 2, 1, ceil_mode=True)),
        Case("k2x3_s1x2", {"x": x()}, lambda x: mp(x, (2, 3), (1, 2))),
    ]


def avg_pool2d_cases():
    g = gen("avg_pool2d")
    x = lambda: U(g, (2, 1, 5, 6))
    ap = F.avg_pool2d
    return [
        Case("k2", {"x": x()}, lambda x: ap(x, 2)),
        Case("k3_s2_p1", {"x": x()}, lambda x: ap(x, 3, 2, 1)),
        Case("k3_s2_p1_exclude_pad", {"x": x()}, lambda x: ap(x, 3, 2, 1, count_include_pad=False)),
        Case("k3_s2_ceil", {"x": x()}, lambda x: ap(x, 3, 2, 0, ceil_mode=True)),
        Case("k3_s2_p1_ceil", {"x": U(g, (1, 1, 7, 7))}, lambda x: ap(x, 3, 2, 1, ceil_mode=True)),
        Case("k3_s2_p1_ceil_exclude_pad", {"x": U(g, (1, 1, 7, 7))},
             lambda x: ap(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
        Case("k2x3_s1x2", {"x": x()}, lambda x: ap(x, (2, 3), (1, 2))),
    ]


def global_avg_pool2d_cases():
    g = gen("global_avg_pool2d")
    x = U(g, (2, 3, 2, 3))
    return [Case("default", {"x": x}, lambda x: x.mean((2, 3))),
            Case("keepdim", {"x": x}, lambda x: x.mean((2, 3), keepdim=True))]


# ---- embedding, dropout, normalisation ----

def embedding_cases():
    g = gen("embedding")
    w = lambda: U(g, (7, 3))
    return [
        Case("2d_repeats", {"w": w(), "i": torch.tensor([[0, 2, 6], [2, 2, 1]])}, lambda w, i: F.embedding(i, w)),
        Case("padding_idx", {"w": w(), "i": torch.tensor([[0, 2, 6], [2, 2, 1]])},
             lambda w, i: F.embedding(i, w, padding_idx=2)),
        Case("int32", {"w": w(), "i": torch.tensor([5, 3, 5], dtype=torch.int32)}, lambda w, i: F.embedding(i, w)),
        Case("scalar_index", {"w": w(), "i": torch.tensor(4)}, lambda w, i: F.embedding(i, w)),
    ]


def dropout_cases():
    g = gen("dropout")
    return [Case("eval", {"x": U(g, (3, 4))}, lambda x: F.dropout(x, 0.5, training=False)),
            Case("p0_train", {"x": U(g, (3, 4))}, lambda x: F.dropout(x, 0.0, training=True))]


def layer_norm_cases():
    g = gen("layer_norm")
    ln = F.layer_norm
    return [
        Case("last_dim", {"x": U(g, (3, 5)), "w": U(g, (5,)), "b": U(g, (5,))}, lambda x, w, b: ln(x, (5,), w, b)),
        Case("last_two", {"x": U(g, (2, 3, 4)), "w": U(g, (3, 4)), "b": U(g, (3, 4))},
             lambda x, w, b: ln(x, (3, 4), w, b)),
        Case("no_affine", {"x": U(g, (3, 5))}, lambda x: ln(x, (5,))),
        Case("weight_only", {"x": U(g, (3, 5)), "w": U(g, (5,))}, lambda x, w: ln(x, (5,), w)),
        Case("eps", {"x": U(g, (3, 5)) * 0.05, "w": U(g, (5,)), "b": U(g, (5,))},
             lambda x, w, b: ln(x, (5,), w, b, eps=1e-2)),
    ]


def batch_norm_cases():
    g = gen("batch_norm")
    stats = lambda c: {"rm": U(g, (c,)), "rv": pos(g, (c,))}
    bn = F.batch_norm
    state = ["rm", "rv"]
    return [
        Case("train_2d", {"x": U(g, (6, 3)), **stats(3), "w": U(g, (3,)), "b": U(g, (3,))},
             lambda x, rm, rv, w, b: bn(x, rm, rv, w, b, True, 0.1, 1e-5), grad=["x", "w", "b"], mutated=state),
        Case("train_4d", {"x": U(g, (2, 3, 2, 2)), **stats(3), "w": U(g, (3,)), "b": U(g, (3,))},
             lambda x, rm, rv, w, b: bn(x, rm, rv, w, b, True, 0.2, 1e-3), grad=["x", "w", "b"], mutated=state),
        Case("train_3d", {"x": U(g, (2, 3, 4)), **stats(3), "w": U(g, (3,)), "b": U(g, (3,))},
             lambda x, rm, rv, w, b: bn(x, rm, rv, w, b, True, 0.1, 1e-5), grad=["x", "w", "b"], mutated=state),
        Case("eval_4d", {"x": U(g, (2, 3, 2, 2)), **stats(3), "w": U(g, (3,)), "b": U(g, (3,))},
             lambda x, rm, rv, w, b: bn(x, rm, rv, w, b, False, 0.1, 1e-5), grad=["x", "w", "b"], mutated=state),
        Case("train_no_affine", {"x": U(g, (6, 3)), **stats(3)},
             lambda x, rm, rv: bn(x, rm, rv, None, None, True, 0.1, 1e-5), grad=["x"], mutated=state),
    ]


def all_ops():
    """op name (the file's name) -> function returning its cases, in ops.h order."""
    t = torch
    return {
        "arange": arange_cases,
        # elementwise
        "add": binary("add", t.add), "sub": binary("sub", t.sub), "mul": binary("mul", t.mul),
        "div": binary("div", t.div, U, away),
        "add_scalar": scalar_op("add_scalar", lambda x: x + 2.5),
        "mul_scalar": scalar_op("mul_scalar", lambda x: x * -1.5),
        "rsub": scalar_op("rsub", lambda x: 2.0 - x),
        "rdiv": scalar_op("rdiv", lambda x: 3.0 / x, away),
        "neg": unary("neg", t.neg), "pow": pow_cases,
        "exp": unary("exp", t.exp, lambda g, s: U(g, s, -2, 2)), "log": unary("log", t.log, pos),
        "sqrt": unary("sqrt", t.sqrt, pos), "rsqrt": unary("rsqrt", t.rsqrt, pos),
        "abs": unary("abs", t.abs, away), "square": unary("square", t.square),
        "clamp": clamp_cases, "maximum": minmax_cases(t.maximum), "minimum": minmax_cases(t.minimum),
        "compare": compare_cases, "where": where_cases, "masked_fill": masked_fill_cases,
        # activations
        "relu": activation("relu", F.relu, away), "leaky_relu": leaky_relu_cases,
        "sigmoid": activation("sigmoid", t.sigmoid), "tanh": activation("tanh", t.tanh), "gelu": gelu_cases,
        "softplus": softplus_cases, "silu": activation("silu", F.silu),
        # reductions
        "sum": reduction("sum", lambda x, d, k: t.sum(x, d, keepdim=k)),
        "mean": reduction("mean", lambda x, d, k: t.mean(x, d, keepdim=k)),
        "var": var_cases, "std": std_cases, "logsumexp": logsumexp_cases,
        "max": max_like("max", lambda x, d, k: t.max(x, d, k)), "min": max_like("min", lambda x, d, k: t.min(x, d, k)),
        "amax": amax_like("amax", lambda x, d, k: t.amax(x, d, k)), "amin": amax_like("amin", lambda x, d, k: t.amin(x, d, k)),
        "argmax": arg_like("argmax", lambda x, d, k: t.argmax(x, d, k)),
        "argmin": arg_like("argmin", lambda x, d, k: t.argmin(x, d, k)),
        # linear algebra
        "matmul": matmul_cases, "linear": linear_cases,
        # views and layout
        "reshape": view_op("reshape", ("contiguous", lambda x: x.reshape(4, 6)), ("infer", lambda x: x.reshape(-1, 2)),
                           ("transposed", lambda x: x.transpose(0, 2).reshape(4, 6))),
        "permute": view_op("permute", ("p201", lambda x: x.permute(2, 0, 1)), ("p021", lambda x: x.permute(0, 2, 1))),
        "transpose": view_op("transpose", ("t02", lambda x: x.transpose(0, 2)), ("t_neg", lambda x: x.transpose(-1, -2))),
        "narrow": view_op("narrow", ("d1", lambda x: x.narrow(1, 1, 2)), ("d2_end", lambda x: x.narrow(2, 3, 1))),
        "slice": view_op("slice", ("step2", lambda x: x[:, :, 0:4:2]), ("negative_bounds", lambda x: x[:, :, -3:-1]),
                         ("step3_dim1", lambda x: x[:, 0:3:3])),
        "select": view_op("select", ("d1", lambda x: x.select(1, 2)), ("negative", lambda x: x.select(-1, -1))),
        "expand": expand_cases,
        "squeeze": view_op("squeeze", ("size1", lambda x: x[:, 1:2].squeeze(1)), ("not_size1", lambda x: x.squeeze(1))),
        "unsqueeze": view_op("unsqueeze", ("d0", lambda x: x.unsqueeze(0)), ("dlast", lambda x: x.unsqueeze(-1))),
        "flatten": view_op("flatten", ("all", lambda x: x.flatten()), ("d12", lambda x: x.flatten(1, 2)),
                           ("permuted", lambda x: x.permute(1, 0, 2).flatten(0, 1))),
        "contiguous": view_op("contiguous", ("transposed", lambda x: x.transpose(1, 2).contiguous()),
                              ("already", lambda x: x.contiguous())),
        "clone": view_op("clone", ("plain", lambda x: x.clone()), ("strided", lambda x: x[:, :, 0:4:3].clone())),
        "to_dtype": to_dtype_cases, "concat": concat_cases, "stack": stack_cases, "split": split_cases,
        "chunk": chunk_cases, "sum_to": sum_to_cases,
        # indexing
        "index_select": index_select_cases, "gather": gather_cases, "scatter_add": scatter_add_cases,
        # softmax and losses
        "softmax": softmax_like("softmax", t.softmax), "log_softmax": softmax_like("log_softmax", t.log_softmax),
        "cross_entropy": cross_entropy_cases,
        # convolution and pooling
        "conv2d": conv2d_cases, "max_pool2d": max_pool2d_cases, "avg_pool2d": avg_pool2d_cases,
        "global_avg_pool2d": global_avg_pool2d_cases,
        # embedding, dropout, normalisation
        "embedding": embedding_cases, "dropout": dropout_cases, "layer_norm": layer_norm_cases,
        "batch_norm": batch_norm_cases,
    }
