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


class CachedSampler:
    """An expert's cached sampler for GatedPixelCNN in PyTorch eager: the vertical stack
    once per finished row (a conv over the layer's last n/2+1 rows, all columns at once),
    the horizontal stack and the head once per sub-pixel as `addmm` into preallocated
    buffers over each layer's window of its last n/2+1 columns, the row above's link plus
    the horizontal bias precomputed per column, gates in place. Exact under teacher
    forcing (`check`)."""

    def __init__(self, net, batch, H, W, device):
        self.net, self.B, self.H, self.W, self.C = net, batch, H, W, net.C
        B = batch
        self.L = []
        for k, l in enumerate(net.layers):
            h, p = l.h, l.p
            cin = l.hc.weight.shape[1]
            w_h = l.hc.weight * l.hc.m  # [2p, cin, 1, h+1]
            self.L.append({
                "h": h, "p": p, "cin": cin, "res": l.res,
                # the window [B, (h+1)*cin], flattened column by column, oldest first
                "Wh": w_h[:, :, 0, :].permute(2, 1, 0).reshape((h + 1) * cin, 2 * p).contiguous(),
                "bh": l.hc.bias.detach().clone(),
                "Wo": (l.ho.weight * l.ho.m)[:, :, 0, 0].t().contiguous(), "bo": l.ho.bias.detach().clone(),
                "Wv": l.v.weight.detach(), "bv": l.v.bias.detach(), "Wl": l.link.weight.detach(),
                "past_v": torch.zeros(B, cin, h, W, device=device),
                # link of the row above + horizontal bias, per column: [W, B, 2p]
                "ctx": torch.zeros(W, B, 2 * p, device=device),
                "win": torch.zeros(B, (h + 1) * cin, device=device),
                "pre": torch.empty(B, 2 * p, device=device),
                "gate": torch.empty(B, p, device=device),
                "sig": torch.empty(B, p, device=device),
            })
        # each layer's output is written straight into the next layer's window (its newest column)
        for k, s in enumerate(self.L):
            nxt = self.L[k + 1] if k + 1 < len(self.L) else None
            s["out"] = nxt["win"][:, nxt["h"] * nxt["cin"]:] if nxt else torch.empty(B, s["p"], device=device)
        self.W1 = (net.h1.weight * net.h1.m)[:, :, 0, 0].t().contiguous()
        self.b1 = net.h1.bias.detach().clone()
        self.W2 = (net.h2.weight * net.h2.m)[:, :, 0, 0].t().contiguous()
        self.b2 = net.h2.bias.detach().clone()
        self.hid = torch.empty(B, self.W1.shape[1], device=device)
        self.logits = torch.empty(B, self.W2.shape[1], device=device)
        self.x = torch.zeros(B, self.C, W + self.L[0]["h"], device=device)  # normalised row, left-padded

    def reset(self):
        for s in self.L:
            s["past_v"].zero_()
            s["ctx"].copy_(s["bh"])  # row 0: no row above, bias only

    def start_row(self):
        for s in self.L:
            s["win"].zero_()
        self.x.zero_()

    def row_step(self, row):
        """After a row is complete (`row` [B, C, W] values 0..255): the vertical stack."""
        v = (row / 127.5 - 1).unsqueeze(2)  # [B, C, 1, W]
        for s in self.L:
            h, p = s["h"], s["p"]
            window = torch.cat([s["past_v"], v], 2)  # [B, cin, h+1, W]
            vp = F.conv2d(F.pad(window, (h, h, 0, 0)), s["Wv"], s["bv"])  # [B, 2p, 1, W]
            torch.add(F.conv2d(vp, s["Wl"])[:, :, 0].permute(2, 0, 1), s["bh"], out=s["ctx"])
            s["past_v"].copy_(window[:, :, 1:])
            v = torch.tanh(vp[:, :p]) * torch.sigmoid(vp[:, p:])

    def pixel_step(self, j):
        """Logits [B, C*256] at column j of the current row, from `self.x` (normalised
        values written so far) and the windows."""
        s0 = self.L[0]
        h0 = s0["h"]
        # layer 0's window: columns j-h0 ..= j of the row (left padding included)
        s0["win"].copy_(self.x[:, :, j:j + h0 + 1].transpose(1, 2).reshape(self.B, -1))
        for s in self.L:
            p = s["p"]
            torch.addmm(s["ctx"][j], s["win"], s["Wh"], out=s["pre"])
            torch.tanh(s["pre"][:, :p], out=s["gate"])
            torch.sigmoid(s["pre"][:, p:], out=s["sig"])
            s["gate"].mul_(s["sig"])
            torch.addmm(s["bo"], s["gate"], s["Wo"], out=s["out"])
            if s["res"]:
                s["out"].add_(s["win"][:, s["h"] * s["cin"]:])
        torch.addmm(self.b1, torch.relu(self.L[-1]["out"]), self.W1, out=self.hid)
        return torch.addmm(self.b2, self.hid.relu_(), self.W2, out=self.logits)

    def next_pixel(self):
        """After a pixel's last colour: each window drops its oldest column."""
        for s in self.L[1:]:
            h, cin = s["h"], s["cin"]
            if h:
                s["win"][:, : h * cin].copy_(s["win"][:, cin:].clone() if h > 1 else s["win"][:, cin:])

    def run(self, choose):
        """The sampling loop; `choose(i, j, c, logits [B, 256]) -> values [B]`."""
        B, C, H, W = self.B, self.C, self.H, self.W
        h0 = self.L[0]["h"]
        self.reset()
        img = torch.zeros(B, C, H, W, device=self.x.device)
        for i in range(H):
            self.start_row()
            for j in range(W):
                for c in range(C):
                    logits = self.pixel_step(j).view(B, C, 256)[:, c]
                    value = choose(i, j, c, logits).float()
                    img[:, c, i, j] = value
                    self.x[:, c, j + h0] = value / 127.5 - 1
                self.next_pixel()
            if i + 1 < H:
                self.row_step(img[:, :, i])
        return img.to(torch.uint8)

    def sample(self, gen):
        return self.run(lambda i, j, c, lg: torch.multinomial(F.softmax(lg, -1), 1, generator=gen)[:, 0])

    def check(self, img):
        """Teacher forcing: the cached logits of every sub-pixel equal the full forward's."""
        full = self.net(img)  # [B, C, 256, H, W]
        worst = [0.0]
        def choose(i, j, c, lg):
            worst[0] = max(worst[0], (lg - full[:, c, :, i, j]).abs().max().item())
            return img[:, c, i, j]
        self.run(choose)
        return worst[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=6, help="training steps timed (0: sampling only)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--sample-batch", type=int, default=16)
    ap.add_argument("--naive-steps", type=int, default=4)
    ap.add_argument("--ours", type=float, help="our training images/s on this machine")
    ap.add_argument("--ours-sample", type=float, help="our cached sampling images/s on this machine")
    ap.add_argument("--no-sample", action="store_true", help="training only")
    ap.add_argument("--cached-batches", type=lambda t: [int(x) for x in t.split(",")], default=[1, 16],
                    help="batch sizes of the cached sampler (comma-separated)")
    ap.add_argument("--cached-rows", type=int, help="time this many rows and scale to the image (default: all)")
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
    for _ in range(a.steps if a.steps > 0 else 0):
        t = time.time()
        # logits [B, C, 256, H, W] -> class dimension second: [B, 256, C, H, W]
        loss = F.cross_entropy(net(x).transpose(1, 2), x.long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.time() - t)
    if a.steps > 1:  # --steps 0: sampling only
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
    H, W = m["height"], m["width"]
    with torch.inference_mode():
        # exact under teacher forcing, then timed
        probe = CachedSampler(net, 2, H, W, dev)
        worst = probe.check(torch.randint(0, 256, (2, m["channels"], H, W), device=dev))
        assert worst <= 1e-4, f"PyTorch cached sampler differs from its full forward by {worst}"
        for sb in a.cached_batches:
            cs = CachedSampler(net, sb, H, W, dev)
            gen = torch.Generator(device=dev).manual_seed(1)
            rows = a.cached_rows or H
            cs.H = rows
            t = time.time()
            cs.sample(gen)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            per_image = (time.time() - t) / sb * H / rows
            print(json.dumps({"bench": "cached-sample", "runtime": f"pytorch {torch.__version__}", "device": a.device,
                              "batch": sb, "threads": torch.get_num_threads(), "images_per_s": 1 / per_image,
                              "rows_timed": rows, "teacher_forcing_max_abs_diff": worst}))


if __name__ == "__main__":
    main()
