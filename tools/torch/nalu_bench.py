#!/usr/bin/env python3
"""PyTorch peer benchmark for Nalu.Gpu: NALU/NAC "static arithmetic task".

Trains the same model, with the same math, that the C# library trains, the way a
careful PyTorch user would write it, and prints ONE JSON object on stdout.
Everything meant for humans goes to stderr.

Math (float32, no biases, eps = 1e-7):
  NAC   W = tanh(What) * sigmoid(Mhat)            (O, I)
        y = x @ W.T
  NALU  a = x @ W.T                                (tied W for both paths)
        m = exp(clamp(log(|x| + eps) @ W.T, max=88))
        g = sigmoid(x @ G.T)
        y = g * a + (1 - g) * m
  NAU   y = x @ W.T, W clamped to [-1, 1] after every optimizer step
  NMU   y_o = prod_i (W_oi x_i + 1 - W_oi), W clamped to [0, 1] after every step
        (--unit nau-nmu: Madsen & Johansen's model, NAU then NMU, with the sparsity
        regulariser lambda(t) * mean(min(|W|, 1 - |W|)) of both layers added to the
        loss, lambda ramping linearly from 0 at step 1e6 to 10 at 2e6: computed every
        step as stable-nalu does, even while lambda is still 0)
  Model: inputs -> hidden -> 1, two layers of the same unit (nau-nmu: NAU, NMU).
  Data (fresh every step): x ~ U[1,2) (P, batch, inputs)
        a = sum x[s:s+25], b = sum x[s+13:s+38]  (inputs == 2: a = x0, b = x1)
        target = op(a, b)
  Loss: sum over models of each model's mean-over-batch MSE, so every model gets
        exactly its solo gradient.  One torch.optim.Adam(lr=1e-3) over the
        stacked (P, O, I) parameters == P independent Adams (Adam is elementwise).

Recurrent (--sequence T >= 2): the same unit as a recurrent cell over [x_t, h]
  (inputs + hidden -> hidden), h_0 = 0, run T steps with autograd through time, then
  a readout layer of the same unit (hidden -> 1) on h_T.  Data: x ~ U[1,2)
  (P, batch, T, inputs); a and b sum x[..., s:s+subset] and x[..., s+gap:s+gap+subset]
  over every step (the library's recurrent arithmetic task).

Usage: /usr/bin/python3 tools/torch/nalu_bench.py [--unit nalu|nac|nau-nmu] [--op mul] ...
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

EPS = 1e-7
EXP_CLAMP = 88.0  # exp(88) ~ 1.65e38, just under float32 max: avoid inf
OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "square": lambda a, b: a * a,
    "sqrt": lambda a, b: torch.sqrt(a),
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def xavier_uniform(shape, gen, device):
    # nn.init.xavier_uniform_ would treat a (P, O, I) tensor as a conv kernel and
    # get the fans wrong, so apply the per-model formula by hand:
    # U(-b, b), b = sqrt(6 / (fan_in + fan_out)), fan_in = I, fan_out = O.
    fan_out, fan_in = shape[-2], shape[-1]
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    w = torch.empty(shape, device=device).uniform_(-bound, bound, generator=gen)
    return w.requires_grad_()


class Layer:
    """One NAC or NALU layer. Parameters are (O, I) for one model, (P, O, I) for
    a population; `x @ W.transpose(-1, -2)` is x @ W.T in 2-D and a batched
    matmul (bmm) in 3-D, so the same code serves both."""

    def __init__(self, unit, n_in, n_out, lead, gen, device):
        shape = (*lead, n_out, n_in)
        self.unit = unit
        self.w_hat = xavier_uniform(shape, gen, device)
        self.m_hat = xavier_uniform(shape, gen, device)
        self.g = xavier_uniform(shape, gen, device) if unit == "nalu" else None

    def params(self):
        return [p for p in (self.w_hat, self.m_hat, self.g) if p is not None]

    def __call__(self, x):
        w = torch.tanh(self.w_hat) * torch.sigmoid(self.m_hat)
        wt = w.transpose(-1, -2)
        a = x @ wt
        if self.unit == "nac":
            return a
        m = torch.exp(torch.clamp(torch.log(torch.abs(x) + EPS) @ wt, max=EXP_CLAMP))
        g = torch.sigmoid(x @ self.g.transpose(-1, -2))
        return g * a + (1 - g) * m


class NauLayer:
    """NAU (clamp [-1, 1]) or NMU (clamp [0, 1]) with its sparsity regulariser."""

    def __init__(self, unit, n_in, n_out, lead, gen, device):
        shape = (*lead, n_out, n_in)
        self.unit = unit
        if unit == "nau":
            r = min(0.5, math.sqrt(3.0) * math.sqrt(2.0 / (n_in + n_out)))
            self.w = torch.empty(shape, device=device).uniform_(-r, r, generator=gen)
        else:
            self.w = torch.empty(shape, device=device).uniform_(0.25, 0.75, generator=gen)
        self.w.requires_grad_()

    def params(self):
        return [self.w]

    def __call__(self, x):
        if self.unit == "nau":
            return x @ self.w.transpose(-1, -2)
        # (..., B, 1, I) * (..., 1, O, I) -> product over I: (..., B, O)
        w = self.w.unsqueeze(-3)
        return torch.prod(x.unsqueeze(-2) * w + 1 - w, dim=-1)

    def regularizer(self):
        """Per-model mean of min(|W|, 1 - |W|): shape () or (P,)."""
        a = self.w.abs()
        return torch.min(a, 1 - a).mean(dim=(-1, -2))

    def clamp(self):
        with torch.no_grad():
            self.w.clamp_(-1.0 if self.unit == "nau" else 0.0, 1.0)


def sparsity_lambda(step, lam=10.0, start=1_000_000, end=2_000_000):
    return lam * min(max((step - start) / (end - start), 0.0), 1.0)


class Trainer:
    def __init__(self, args, seed):
        self.args = args
        dev = torch.device(args.device)
        # Single model: plain 2-D tensors, exactly what a solo user writes.
        # Population: one leading P dimension on every parameter and batch.
        self.lead = () if args.models == 1 else (args.models,)
        init_gen = torch.Generator(device=dev).manual_seed(seed)
        self.data_gen = torch.Generator(device=dev).manual_seed(seed + 1)
        if args.sequence > 1:
            if args.unit == "nau-nmu":
                raise SystemExit("--sequence supports --unit nac and nalu")
            # The cell reads [x_t, h_{t-1}]; the readout reads h_T.
            self.layers = [
                Layer(args.unit, args.inputs + args.hidden, args.hidden, self.lead, init_gen, dev),
                Layer(args.unit, args.hidden, 1, self.lead, init_gen, dev),
            ]
        elif args.unit == "nau-nmu":
            self.layers = [
                NauLayer("nau", args.inputs, args.hidden, self.lead, init_gen, dev),
                NauLayer("nmu", args.hidden, 1, self.lead, init_gen, dev),
            ]
        else:
            self.layers = [
                Layer(args.unit, args.inputs, args.hidden, self.lead, init_gen, dev),
                Layer(args.unit, args.hidden, 1, self.lead, init_gen, dev),
            ]
        self.step_index = 0
        self.opt = torch.optim.Adam([p for l in self.layers for p in l.params()], lr=1e-3)
        self.dev = dev
        self.last_losses = None  # per-model losses of the last step (no host sync)

    def batch(self):
        a_ = self.args
        if a_.sequence > 1:
            x = torch.rand((*self.lead, a_.batch, a_.sequence, a_.inputs), generator=self.data_gen,
                           device=self.dev) + 1.0  # U[1, 2)
            s = a_.subset_start
            a = x[..., s:s + a_.subset].sum((-1, -2))
            b = x[..., s + a_.gap:s + a_.gap + a_.subset].sum((-1, -2))
            return x, OPS[a_.op](a, b)
        x = torch.rand((*self.lead, a_.batch, a_.inputs), generator=self.data_gen,
                       device=self.dev) + 1.0  # U[1, 2)
        if a_.inputs == 2:
            a, b = x[..., 0], x[..., 1]
        else:
            s = a_.subset_start
            a = x[..., s:s + 25].sum(-1)
            b = x[..., s + 13:s + 38].sum(-1)
        return x, OPS[a_.op](a, b)

    def forward(self, x):
        if self.args.sequence <= 1:
            y = x
            for layer in self.layers:
                y = layer(y)
            return y
        cell, readout = self.layers
        h = torch.zeros((*x.shape[:-2], self.args.hidden), device=self.dev)
        for t in range(self.args.sequence):
            h = cell(torch.cat([x[..., t, :], h], dim=-1))
        return readout(h)

    def step(self):
        x, t = self.batch()
        y = self.forward(x)
        per_model = ((y.squeeze(-1) - t) ** 2).mean(-1)  # () or (P,)
        loss = per_model.sum()  # sum of means => each model's solo gradient
        if self.args.unit == "nau-nmu":
            lam = sparsity_lambda(self.step_index)
            loss = loss + lam * sum(layer.regularizer() for layer in self.layers).sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.args.unit == "nau-nmu":
            for layer in self.layers:
                layer.clamp()
        self.step_index += 1
        self.last_losses = per_model.detach()

    def run(self, steps):
        """Run `steps` steps and return wall seconds (device work included)."""
        self.sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.sync()  # CUDA is async: wait for the queued work before stopping the clock
        return time.perf_counter() - t0

    def sync(self):
        if self.dev.type == "cuda":
            torch.cuda.synchronize()


def pick_threads(args):
    """Time a short run per thread count on a fresh model; return best + trials."""
    trials = {}
    for t in range(1, (os.cpu_count() or 1) + 1):
        torch.set_num_threads(t)
        tr = Trainer(args, args.seed)
        tr.run(min(10, args.trial_steps))  # warm caches / allocator / OpenMP pool
        secs = tr.run(args.trial_steps)
        trials[t] = args.trial_steps / secs
        log(f"threads={t}: {trials[t]:.1f} steps/s")
    best = max(trials, key=trials.get)
    return best, trials


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--unit", choices=["nalu", "nac", "nau-nmu"], default="nalu")
    p.add_argument("--op", choices=sorted(OPS), default="mul")
    p.add_argument("--inputs", type=int, default=100)
    p.add_argument("--hidden", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--models", type=int, default=1, help="population size P")
    p.add_argument("--steps", type=int, default=300, help="timed steps per repeat")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; median reported")
    p.add_argument("--threads", default="best", help="int, or 'best' to search 1..cpu_count")
    p.add_argument("--trial-steps", type=int, default=50, help="steps per thread trial")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset-start", type=int, default=0, help="s in a=x[s:s+25], b=x[s+13:s+38]")
    p.add_argument("--sequence", type=int, default=0, help="T >= 2: the recurrent task (the unit as a cell over T steps)")
    p.add_argument("--subset", type=int, default=3, help="recurrent task: values per step summed into a and into b")
    p.add_argument("--gap", type=int, default=2, help="recurrent task: start of b's subset minus a's")
    args = p.parse_args()
    if args.sequence > 1:
        if args.inputs < args.subset_start + args.gap + args.subset:
            p.error("--inputs too small for --subset-start + --gap + --subset")
    elif args.inputs != 2 and args.inputs < args.subset_start + 38:
        p.error("inputs must be 2 or >= subset_start + 38")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("CUDA not available in this torch build (Debian python3-torch is CPU-only)")

    trials = {}
    if args.device == "cpu" and args.threads == "best":
        threads, trials = pick_threads(args)
    elif args.threads == "best":
        threads = torch.get_num_threads()  # GPU run: host threads barely matter
    else:
        threads = int(args.threads)
    torch.set_num_threads(threads)

    tr = Trainer(args, args.seed)
    tr.run(args.warmup)
    secs = []
    for r in range(args.repeats):
        secs.append(tr.run(args.steps))
        log(f"repeat {r}: {secs[-1]:.3f} s, {args.models * args.steps / secs[-1]:.1f} model-steps/s")
    med = statistics.median(secs)
    msps = args.models * args.steps / med

    print(json.dumps({
        "torch_version": torch.__version__,
        "device": args.device,
        "threads": threads,
        "threads_trials": {str(t): round(v, 2) for t, v in trials.items()},
        "unit": args.unit,
        "op": args.op,
        "inputs": args.inputs,
        "sequence": args.sequence,
        "hidden": args.hidden,
        "batch": args.batch,
        "models": args.models,
        "steps": args.steps,
        "repeats": args.repeats,
        "seconds_median": med,
        "model_steps_per_s": msps,
        "samples_per_s": msps * args.batch,
        "final_loss": tr.last_losses.float().mean().item(),
        # extras (not in the required list): raw timings and run settings
        "seconds_all": secs,
        "warmup": args.warmup,
        "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
