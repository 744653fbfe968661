"""The SD3 MMDiT (diffusers' SD3Transformer2DModel architecture, joint blocks only, no qk-norm, no dual attention)
written from scratch in PyTorch, with its weights read from an Optimum ONNX export of that model.

The ONNX file names most parameters by their diffusers name (``transformer_blocks.0.norm1.linear.weight``); linear
layers exported as ``MatMul`` + ``Add`` keep only the bias's name and store the weight transposed under an
anonymous ``onnx::MatMul_*`` name, which is mapped back through the ``Add`` that follows the ``MatMul``. The
position-embedding table (``onnx::Slice_*``, ``[1, M, M, D]``) is the one ``Slice`` input of that shape.
"""
import json
import math
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from torch import nn


def _ln(x):
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


class _Linear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(o, i))
        self.bias = nn.Parameter(torch.zeros(o))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class _FeedForward(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj_in = _Linear(d, 4 * d)
        self.proj_out = _Linear(4 * d, d)

    def forward(self, x):
        return self.proj_out(F.gelu(self.proj_in(x), approximate="tanh"))


class JointBlock(nn.Module):
    """One joint (MMDiT) block: adaLN-Zero modulated joint attention over [image tokens, text tokens], then MLPs.
    The last block is context_pre_only: its text stream gets only a continuous adaLN (scale, shift) and is dropped."""

    def __init__(self, d, heads, pre_only):
        super().__init__()
        self.heads = heads
        self.pre_only = pre_only
        self.norm1 = _Linear(d, 6 * d)
        self.norm1_context = _Linear(d, (2 if pre_only else 6) * d)
        self.q, self.k, self.v = _Linear(d, d), _Linear(d, d), _Linear(d, d)
        self.aq, self.ak, self.av = _Linear(d, d), _Linear(d, d), _Linear(d, d)
        self.out = _Linear(d, d)
        self.ff = _FeedForward(d)
        if not pre_only:
            self.add_out = _Linear(d, d)
            self.ff_context = _FeedForward(d)

    def _split(self, t):
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, c, temb):
        e = F.silu(temb)
        sh, sc, g, sh2, sc2, g2 = self.norm1(e)[:, None, :].chunk(6, dim=-1)
        nx = _ln(x) * (1 + sc) + sh
        ce = self.norm1_context(e)[:, None, :]
        if self.pre_only:
            csc, csh = ce.chunk(2, dim=-1)
            nc = _ln(c) * (1 + csc) + csh
        else:
            csh, csc, cg, csh2, csc2, cg2 = ce.chunk(6, dim=-1)
            nc = _ln(c) * (1 + csc) + csh
        q = torch.cat([self._split(self.q(nx)), self._split(self.aq(nc))], dim=2)
        k = torch.cat([self._split(self.k(nx)), self._split(self.ak(nc))], dim=2)
        v = torch.cat([self._split(self.v(nx)), self._split(self.av(nc))], dim=2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v
        a = a.transpose(1, 2).reshape(x.shape[0], -1, x.shape[-1])
        ax, ac = a[:, : x.shape[1]], a[:, x.shape[1]:]
        x = x + g * self.out(ax)
        x = x + g2 * self.ff(_ln(x) * (1 + sc2) + sh2)
        if self.pre_only:
            return x, None
        c = c + cg * self.add_out(ac)
        c = c + cg2 * self.ff_context(_ln(c) * (1 + csc2) + csh2)
        return x, c


class SD3Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        self.p = cfg["patch_size"]
        self.cout = cfg["out_channels"]
        self.pos_max = cfg["pos_embed_max_size"]
        self.patch = nn.Conv2d(cfg["in_channels"], d, self.p, stride=self.p)
        self.pos = nn.Parameter(torch.zeros(1, self.pos_max, self.pos_max, d))  # trainable, as in the TF import
        self.t1, self.t2 = _Linear(256, d), _Linear(d, d)
        self.p1, self.p2 = _Linear(cfg["pooled_projection_dim"], d), _Linear(d, d)
        self.context = _Linear(cfg["joint_attention_dim"], cfg["caption_projection_dim"])
        n = cfg["num_layers"]
        self.blocks = nn.ModuleList(JointBlock(d, cfg["num_attention_heads"], i == n - 1) for i in range(n))
        self.norm_out = _Linear(d, 2 * d)
        self.proj_out = _Linear(d, self.p * self.p * self.cout)

    @staticmethod
    def timestep_features(t, dim=256):
        half = dim // 2
        f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        a = t[:, None].float() * f[None]
        return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)  # cos first (flip_sin_to_cos)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep):
        b, _, hh, ww = hidden_states.shape
        h, w = hh // self.p, ww // self.p
        x = self.patch(hidden_states).flatten(2).transpose(1, 2)
        top, left = (self.pos_max - h) // 2, (self.pos_max - w) // 2
        x = x + self.pos[:, top:top + h, left:left + w, :].reshape(1, h * w, -1)
        temb = self.t2(F.silu(self.t1(self.timestep_features(timestep)))) \
            + self.p2(F.silu(self.p1(pooled_projections)))
        c = self.context(encoder_hidden_states)
        for blk in self.blocks:
            x, c = blk(x, c, temb)
        sc, sh = self.norm_out(F.silu(temb))[:, None, :].chunk(2, dim=-1)
        x = self.proj_out(_ln(x) * (1 + sc) + sh)
        x = x.reshape(b, h, w, self.p, self.p, self.cout).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, self.cout, h * self.p, w * self.p)


# diffusers name -> this module's name
def _own_name(n):
    r = n.replace("pos_embed.proj.", "patch.")
    r = r.replace("time_text_embed.timestep_embedder.linear_1.", "t1.").replace(
        "time_text_embed.timestep_embedder.linear_2.", "t2.")
    r = r.replace("time_text_embed.text_embedder.linear_1.", "p1.").replace(
        "time_text_embed.text_embedder.linear_2.", "p2.")
    r = r.replace("context_embedder.", "context.").replace("transformer_blocks.", "blocks.")
    r = r.replace("norm1.linear.", "norm1.").replace("norm1_context.linear.", "norm1_context.")
    r = r.replace("norm_out.linear.", "norm_out.")
    for a, o in [("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("add_q_proj", "aq"), ("add_k_proj", "ak"),
                 ("add_v_proj", "av"), ("to_out.0", "out"), ("to_add_out", "add_out")]:
        r = r.replace("attn." + a + ".", o + ".")
    r = r.replace("net.0.proj.", "proj_in.").replace("net.2.", "proj_out.")
    return r


def onnx_parameters(path):
    """diffusers-named parameters of an exported SD3 transformer, in torch layout ([out, in] for linear weights)."""
    m = onnx.load(path)
    init = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    out = {k: v for k, v in init.items() if not k.startswith("onnx::")}
    consumers = {}
    for node in m.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    for node in m.graph.node:
        if node.op_type == "MatMul" and node.input[1] in init and node.input[1].startswith("onnx::"):
            adds = [a for a in consumers.get(node.output[0], []) if a.op_type == "Add"]
            bias = [i for a in adds for i in a.input if i.endswith(".bias")]
            if len(bias) != 1:
                raise ValueError("MatMul " + node.name + ": no single named bias after it")
            out[bias[0][: -len(".bias")] + ".weight"] = init[node.input[1]].T.copy()
        if node.op_type == "Slice" and node.input[0] in init and init[node.input[0]].ndim == 4:
            out["pos_embed.pos_embed"] = init[node.input[0]]
    return out


def load(folder):
    """The model of an export folder holding model.onnx and config.json, weights from the ONNX file."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = SD3Transformer(cfg)
    own = dict(model.named_parameters())
    params = onnx_parameters(os.path.join(folder, "model.onnx"))
    seen = set()
    for k, v in params.items():
        n = "pos" if k == "pos_embed.pos_embed" else _own_name(k)
        if n not in own or tuple(own[n].shape) != v.shape:
            raise ValueError(f"parameter {k} -> {n}: {v.shape} does not fit {tuple(own[n].shape) if n in own else None}")
        with torch.no_grad():
            own[n].copy_(torch.from_numpy(np.array(v, dtype=np.float32)))
        seen.add(n)
    missing = set(own) - seen
    if missing:
        raise ValueError(f"parameters not in the ONNX file: {sorted(missing)}")
    return model
