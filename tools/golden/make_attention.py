#!/usr/bin/python3
"""Writes the PyTorch references of Cairn's attention layers and GPT into tests/golden/attention/.

Run with Debian's python3-torch (1.13, CPU):   /usr/bin/python3 tools/golden/make_attention.py [OUT_DIR]

Torch 1.13 has no scaled_dot_product_attention, so attention is written out as softmax(q k^T * scale + mask) v,
the definition Cairn's fused kernel must reproduce. Everything is computed in float64; the C++ tests
(tests/nn/attention_golden_test.cpp, tests/train/gpt_golden_test.cpp) run Cairn in float64 (tight tolerance)
and float32 (loose tolerance) on the same inputs.

  mha.safetensors          MultiHeadAttention (self: causal + key padding; self: additive mask + key padding;
                           cross: memory key padding): inputs, parameters (Cairn names), R, outputs and the
                           gradients of sum(out * R) for the input(s) and every parameter; and torch's own
                           nn.MultiheadAttention (case torch_mha, torch's parameter names)
  block.safetensors        Transformer blocks (LayerNorm + attention + GELU MLP, residuals): an encoder block
                           pre-norm with exact GELU and key padding, and one post-norm with tanh GELU
  gpt_step.safetensors     ONE WHOLE GPT TRAINING STEP, as llm.c's test_gpt2.c: a small GPT with torch_ref.py's
                           architecture (tok, pos, blocks.i.{ln1, qkv, proj, ln2, fc, fc2}, ln, head), tokens and
                           targets, then logits, loss, every parameter's gradient and every parameter after one
                           torch.optim.AdamW(lr=1e-3) step.

Names: "<case>.<tensor>"; parameters "<case>.param.<name>", gradients "<case>.grad.<name>", input gradients
"<case>.grad_in.<name>", post-AdamW parameters "<case>.new.<name>". Masks are uint8 (1 = padding key).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save  # noqa: E402

torch.manual_seed(1234)
D64 = torch.float64


def attention(q, k, v, causal=False, key_padding=None, add_mask=None):
    """q (B, H, Tq, D), k/v (B, H, Tk, D); causal aligned bottom-right; key_padding (B, Tk) bool (True = pad)."""
    tq, tk = q.shape[2], k.shape[2]
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if add_mask is not None:
        s = s + add_mask
    if causal:
        allowed = torch.ones(tq, tk, dtype=torch.bool).tril(diagonal=tk - tq)
        s = s.masked_fill(~allowed, float("-inf"))
    if key_padding is not None:
        s = s.masked_fill(key_padding[:, None, None, :], float("-inf"))
    return s.softmax(-1) @ v


def heads(x, h):  # (B, T, E) -> (B, H, T, E / H)
    b, t, e = x.shape
    return x.view(b, t, h, e // h).transpose(1, 2)


def merge(x):  # (B, H, T, D) -> (B, T, H * D)
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


class SelfAttention(nn.Module):  # Cairn's MultiHeadAttention(cross=false): qkv, proj
    def __init__(s, e, h):
        super().__init__(); s.h = h; s.qkv = nn.Linear(e, 3 * e); s.proj = nn.Linear(e, e)

    def forward(s, x, **masks):
        q, k, v = s.qkv(x).split(x.shape[-1], 2)
        return s.proj(merge(attention(heads(q, s.h), heads(k, s.h), heads(v, s.h), **masks)))


class CrossAttention(nn.Module):  # Cairn's MultiHeadAttention(cross=true): q, kv, proj
    def __init__(s, e, h, kv_dim):
        super().__init__(); s.h = h; s.q = nn.Linear(e, e); s.kv = nn.Linear(kv_dim, 2 * e); s.proj = nn.Linear(e, e)

    def forward(s, x, mem, **masks):
        k, v = s.kv(mem).split(x.shape[-1], 2)
        return s.proj(merge(attention(heads(s.q(x), s.h), heads(k, s.h), heads(v, s.h), **masks)))


class Block(nn.Module):  # Cairn's TransformerEncoderBlock
    def __init__(s, e, h, mlp, pre_norm, approx):
        super().__init__()
        s.h, s.pre, s.approx = h, pre_norm, approx
        s.ln1 = nn.LayerNorm(e); s.qkv = nn.Linear(e, 3 * e); s.proj = nn.Linear(e, e)
        s.ln2 = nn.LayerNorm(e); s.fc = nn.Linear(e, mlp); s.fc2 = nn.Linear(mlp, e)

    def attn(s, x, **masks):
        q, k, v = s.qkv(x).split(x.shape[-1], 2)
        return s.proj(merge(attention(heads(q, s.h), heads(k, s.h), heads(v, s.h), **masks)))

    def mlp(s, x):
        return s.fc2(F.gelu(s.fc(x), approximate=s.approx))

    def forward(s, x, **masks):
        if s.pre:
            x = x + s.attn(s.ln1(x), **masks)
            return x + s.mlp(s.ln2(x))
        x = s.ln1(x + s.attn(x, **masks))
        return s.ln2(x + s.mlp(x))


def perturb_norms(m):  # LayerNorm weights/biases away from 1/0 so their gradients are exercised
    for mod in m.modules():
        if isinstance(mod, nn.LayerNorm):
            with torch.no_grad():
                mod.weight.add_(0.1 * torch.randn_like(mod.weight)); mod.bias.add_(0.1 * torch.randn_like(mod.bias))


def module_case(out, case, module, inputs, forward):
    """Runs forward(module, **inputs) in float64 and stores inputs, params, R, output and gradients."""
    module = module.to(D64)
    for name, t in inputs.items():
        out[f"{case}.{name}"] = t
    for name, p in module.named_parameters():
        out[f"{case}.param.{name}"] = p.detach().clone()
    leaves = {n: t.requires_grad_() for n, t in inputs.items() if n in ("x", "memory")}
    y = forward(module, **inputs)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    out[f"{case}.R"] = r
    out[f"{case}.out"] = y.detach()
    for name, t in leaves.items():
        out[f"{case}.grad_in.{name}"] = t.grad
    for name, p in module.named_parameters():
        out[f"{case}.grad.{name}"] = p.grad


def pad_mask(b, t, pads):  # uint8 (B, T): the last pads[i] keys of row i are padding
    m = torch.zeros(b, t, dtype=torch.uint8)
    for i, n in enumerate(pads):
        if n:
            m[i, t - n:] = 1
    return m


def make_mha(out_dir):
    out = {}
    B, T, E, H = 2, 7, 8, 2
    pad = pad_mask(B, T, [0, 2])
    m = SelfAttention(E, H)
    module_case(out, "self_causal_pad", m, {"x": torch.randn(B, T, E, dtype=D64), "key_padding_mask": pad},
                lambda m, x, key_padding_mask: m(x, causal=True, key_padding=key_padding_mask.bool()))
    m = SelfAttention(E, H)
    module_case(out, "self_additive_pad", m,
                {"x": torch.randn(B, T, E, dtype=D64), "key_padding_mask": pad,
                 "attn_mask": 0.5 * torch.randn(T, T, dtype=D64)},
                lambda m, x, key_padding_mask, attn_mask: m(x, key_padding=key_padding_mask.bool(),
                                                            add_mask=attn_mask.detach()))
    S, KV = 5, 6
    m = CrossAttention(E, H, KV)
    module_case(out, "cross_pad", m,
                {"x": torch.randn(B, T, E, dtype=D64), "memory": torch.randn(B, S, KV, dtype=D64),
                 "key_padding_mask": pad_mask(B, S, [1, 0])},
                lambda m, x, memory, key_padding_mask: m(x, memory, key_padding=key_padding_mask.bool()))
    # torch.nn.MultiheadAttention itself (its own kernels, not the formula above), under its own parameter names
    # (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias), with a causal additive mask and key padding.
    m = nn.MultiheadAttention(E, H, batch_first=True)
    causal = torch.full((T, T), float("-inf"), dtype=D64).triu(1)
    module_case(out, "torch_mha", m, {"x": torch.randn(B, T, E, dtype=D64), "key_padding_mask": pad},
                lambda m, x, key_padding_mask: m(x, x, x, key_padding_mask=key_padding_mask.bool(), attn_mask=causal,
                                                 need_weights=False)[0])
    save(os.path.join(out_dir, "mha.safetensors"), out, {"B": B, "T": T, "E": E, "H": H, "S": S, "kv_dim": KV})


def make_block(out_dir):
    out = {}
    B, T, E, H, MLP = 2, 6, 8, 2, 12
    pad = pad_mask(B, T, [1, 0])
    for case, pre, approx in (("pre_exact", True, "none"), ("post_tanh", False, "tanh")):
        m = Block(E, H, MLP, pre, approx)
        perturb_norms(m)
        module_case(out, case, m, {"x": torch.randn(B, T, E, dtype=D64), "key_padding_mask": pad},
                    lambda m, x, key_padding_mask: m(x, key_padding=key_padding_mask.bool()))
    save(os.path.join(out_dir, "block.safetensors"), out, {"B": B, "T": T, "E": E, "H": H, "mlp_dim": MLP})


# ---- the GPT of /work/shared/bench/torch_ref.py, parameterised (its classes close over globals) ----
class GPTBlock(nn.Module):
    def __init__(s, C, H):
        super().__init__(); s.H = H
        s.ln1 = nn.LayerNorm(C); s.qkv = nn.Linear(C, 3 * C); s.proj = nn.Linear(C, C)
        s.ln2 = nn.LayerNorm(C); s.fc = nn.Linear(C, 4 * C); s.fc2 = nn.Linear(4 * C, C)

    def forward(s, x):  # torch_ref.py's Block.forward, verbatim but for H
        b, t, c = x.shape; q, k, v = s.qkv(s.ln1(x)).split(c, 2)
        q, k, v = [z.view(b, t, s.H, c // s.H).transpose(1, 2) for z in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) * (1.0 / (c // s.H) ** 0.5)
        att = att.masked_fill(torch.ones(t, t).tril() == 0, float('-inf')).softmax(-1)
        x = x + s.proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + s.fc2(F.gelu(s.fc(s.ln2(x))))


class GPT(nn.Module):
    def __init__(s, V, T, C, H, L):
        super().__init__(); s.V = V
        s.tok = nn.Embedding(V, C); s.pos = nn.Embedding(T, C)
        s.blocks = nn.Sequential(*[GPTBlock(C, H) for _ in range(L)]); s.ln = nn.LayerNorm(C)
        s.head = nn.Linear(C, V, bias=False)

    def forward(s, x):
        return s.head(s.ln(s.blocks(s.tok(x) + s.pos(torch.arange(x.shape[1]))))).view(-1, s.V)


def make_gpt_step(out_dir):
    V, T, C, H, L, B = 13, 8, 16, 2, 2, 3
    model = GPT(V, T, C, H, L).to(D64)
    perturb_norms(model)
    out = {}
    for name, p in model.named_parameters():
        out[f"step.param.{name}"] = p.detach().clone()
    x = torch.randint(0, V, (B, T)); y = torch.randint(0, V, (B, T))
    out["step.tokens"] = x; out["step.targets"] = y
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    opt.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y.view(-1))
    loss.backward()
    out["step.logits"] = logits.detach().view(B, T, V)
    out["step.loss"] = loss.detach().reshape(1)
    for name, p in model.named_parameters():
        out[f"step.grad.{name}"] = p.grad.detach().clone()
    opt.step()
    for name, p in model.named_parameters():
        out[f"step.new.{name}"] = p.detach().clone()
    save(os.path.join(out_dir, "gpt_step.safetensors"), out,
         {"vocab_size": V, "context_length": T, "embed_dim": C, "num_heads": H, "num_layers": L, "batch": B,
          "optimizer": "AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)"})


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "golden", "attention")
    os.makedirs(out_dir, exist_ok=True)
    make_mha(out_dir)
    make_block(out_dir)
    make_gpt_step(out_dir)
