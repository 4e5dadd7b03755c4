# PyTorch's own mixed precision on the reference GPT step, for context next to Cairn's matmul_precision medium:
# ../shared/bench/torch_ref.py's `gpt` model, batch, optimizer and data (same code path: this imports nothing
# from it, so the model is restated here line for line), with the forward and loss under
# torch.autocast("cpu", dtype=torch.bfloat16) (linear layers and matmuls in bfloat16, float32 master weights).
# Usage: /usr/bin/python3 bench/torch_gpt_autocast.py [threads]
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
L, H, C, T, B, V = 4, 4, 128, 64, 12, 65
class Block(nn.Module):
    def __init__(s): super().__init__(); s.ln1 = nn.LayerNorm(C); s.qkv = nn.Linear(C, 3*C); s.proj = nn.Linear(C, C); s.ln2 = nn.LayerNorm(C); s.fc = nn.Linear(C, 4*C); s.fc2 = nn.Linear(4*C, C)
    def forward(s, x):
        b, t, c = x.shape; q, k, v = s.qkv(s.ln1(x)).split(C, 2)
        q, k, v = [z.view(b, t, H, c//H).transpose(1, 2) for z in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) * (1.0 / (c//H) ** 0.5)
        att = att.masked_fill(torch.ones(t, t).tril() == 0, float('-inf')).softmax(-1)
        x = x + s.proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + s.fc2(F.gelu(s.fc(s.ln2(x))))
class GPT(nn.Module):
    def __init__(s): super().__init__(); s.tok = nn.Embedding(V, C); s.pos = nn.Embedding(T, C); s.blocks = nn.Sequential(*[Block() for _ in range(L)]); s.ln = nn.LayerNorm(C); s.head = nn.Linear(C, V, bias=False)
    def forward(s, x): return s.head(s.ln(s.blocks(s.tok(x) + s.pos(torch.arange(x.shape[1]))))).view(-1, V)
model = GPT(); opt = torch.optim.AdamW(model.parameters(), 1e-3)
X = torch.randint(0, V, (B * 200, T)); Y = torch.randint(0, V, (B * 200, T))
model.train(); t = time.perf_counter()
for i in range(200):
    x, y = X[i*B:(i+1)*B], Y[i*B:(i+1)*B]
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x).float(), y.view(-1))
    loss.backward(); opt.step()
dt = time.perf_counter() - t
print(f"gpt autocast bf16: {dt/200*1000:.1f} ms/iter  {B*T*200/dt:.0f} tokens/s  last loss={loss.item():.4f}")
