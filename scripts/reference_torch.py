#!/usr/bin/env python3
"""PyTorch peer of the Gated PixelCNN (the same architecture as models/src/gated.rs:
vertical (n/2+1 x n) and horizontal (1 x n/2+1) stacks, gated units, link before the
gate shifted down, residual after layer 0, colour-group masks, ReLU-1x1-ReLU-1x1 head),
for "what users would pick instead" ratios. Measures training images/s (Adam, batch
from the config) and naive sampling (one full forward per sub-pixel, timed over a few
forwards and scaled) on the given device; prints JSON lines, and ratios if --ours /
--ours-sample give our numbers from the same machine.

  reference_torch.py --config models/configs/mnist-gated-large.yaml --steps 6 --device cpu
"""
import argparse, json, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_yaml(path):
    try:
        import yaml
        return yaml.safe_load(open(path))
    except ImportError:  # minimal reader for this project's simple configs
        root, stack = {}, [(-1, None)]
        cur = root
        for raw in open(path):
            line = raw.split("#")[0].rstrip()
            if not line.strip():
                continue
            ind = len(line) - len(line.lstrip())
            k, _, v = line.strip().partition(":")
            while stack and ind <= stack[-1][0]:
                stack.pop()
            parent = stack[-1][1] if stack[-1][1] is not None else root
            v = v.strip()
            if v == "":
                parent[k] = {}
                stack.append((ind, parent[k]))
            else:
                try:
                    parent[k] = int(v)
                except ValueError:
                    try:
                        parent[k] = float(v)
                    except ValueError:
                        parent[k] = v
        return root


def groups(n, c):
    return torch.tensor([k * c // n for k in range(n)])


def mask(out_g, in_g, kw, kind):
    m = torch.ones(len(out_g), len(in_g), 1, kw)
    allow = (in_g[None, :] < out_g[:, None]) if kind == "A" else (in_g[None, :] <= out_g[:, None])
    m[:, :, 0, kw - 1] = allow.float()
    return m


class MaskedConv(nn.Conv2d):
    def __init__(self, cin, cout, k, m=None, bias=True):
        super().__init__(cin, cout, k, bias=bias)
        self.register_buffer("m", m if m is not None else torch.ones_like(self.weight))

    def forward(self, x):
        return F.conv2d(x, self.weight * self.m, self.bias)


class Layer(nn.Module):
    def __init__(self, C, cin, p, n, first):
        super().__init__()
        h = n // 2
        self.h, self.p, self.res = h, p, not first
        gg = torch.cat([groups(p, C), groups(p, C)])
        ig = groups(cin, C)
        self.v = nn.Conv2d(cin, 2 * p, (h + 1, n))
        self.link = nn.Conv2d(2 * p, 2 * p, 1, bias=False)
        self.hc = MaskedConv(cin, 2 * p, (1, h + 1), mask(gg, ig, h + 1, "A" if first else "B"))
        self.ho = MaskedConv(p, p, 1, mask(groups(p, C), groups(p, C), 1, "B"))

    def gate(self, x):
        return torch.tanh(x[:, : self.p]) * torch.sigmoid(x[:, self.p :])

    def forward(self, v, hx):
        h = self.h
        vp = self.v(F.pad(v, (h, h, h, 0)))
        link = F.pad(self.link(vp), (0, 0, 1, 0))[:, :, :-1]
        hp = self.hc(F.pad(hx, (h, 0, 0, 0))) + link
        out = self.ho(self.gate(hp))
        return self.gate(vp), out + hx if self.res else out


class GatedPixelCNN(nn.Module):
    def __init__(self, m):
        super().__init__()
        C, p, q = m["channels"], m["hidden"], m.get("head_hidden", 128)
        k0, k = m.get("first_kernel", 7), m.get("kernel", 3)
        self.C = C
        self.layers = nn.ModuleList([Layer(C, C if l == 0 else p, p, k0 if l == 0 else k, l == 0) for l in range(m["layers"])])
        self.h1 = MaskedConv(p, q, 1, mask(groups(q, C), groups(p, C), 1, "B"))
        self.h2 = MaskedConv(q, C * 256, 1, mask(groups(C * 256, C), groups(q, C), 1, "B"))

    def forward(self, img):
        x = img.float() / 127.5 - 1
        v = hx = x
        for l in self.layers:
            v, hx = l(v, hx)
        o = self.h2(F.relu(self.h1(F.relu(hx))))
        b, _, H, W = o.shape
        return o.view(b, self.C, 256, H, W)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--sample-batch", type=int, default=16)
    ap.add_argument("--naive-steps", type=int, default=4)
    ap.add_argument("--ours", type=float, help="our training images/s on this machine")
    ap.add_argument("--ours-sample", type=float, help="our cached sampling images/s on this machine")
    ap.add_argument("--no-sample", action="store_true", help="training only")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: all cores)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = load_yaml(a.config)
    m = cfg["model"]
    dev = torch.device(a.device)
    net = GatedPixelCNN(m).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    b = a.batch or cfg["batch_size"]
    x = torch.randint(0, 256, (b, m["channels"], m["height"], m["width"]), device=dev)
    times = []
    for _ in range(a.steps):
        t = time.time()
        # logits [B, C, 256, H, W] -> class dimension second: [B, 256, C, H, W]
        loss = F.cross_entropy(net(x).transpose(1, 2), x.long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.time() - t)
    ips = b / sorted(times[1:])[len(times[1:]) // 2]
    out = {"bench": "train", "runtime": f"pytorch {torch.__version__}", "device": a.device, "batch": b,
           "threads": torch.get_num_threads(), "images_per_s": ips}
    if a.ours:
        out["ours_over_pytorch"] = a.ours / ips
    print(json.dumps(out))
    if a.no_sample:
        return
    sb = a.sample_batch
    xs = torch.zeros((sb, m["channels"], m["height"], m["width"]), dtype=torch.long, device=dev)
    with torch.no_grad():
        net(xs)
        t = time.time()
        for _ in range(a.naive_steps):
            net(xs)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        per = (time.time() - t) / a.naive_steps
    dims = m["channels"] * m["height"] * m["width"]
    s_ips = sb / (per * dims)
    out = {"bench": "naive-sample", "runtime": f"pytorch {torch.__version__}", "device": a.device, "batch": sb,
           "seconds_per_forward": per, "images_per_s": s_ips, "naive_steps_timed": a.naive_steps}
    if a.ours_sample:
        out["ours_cached_over_pytorch_naive"] = a.ours_sample / s_ips
    print(json.dumps(out))


if __name__ == "__main__":
    main()
