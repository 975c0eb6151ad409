#!/usr/bin/env python3
"""PyTorch peer of bn-cpu-bench (tools/bench/bn_cpu_bench.cc): the same ops on
the same shapes, timed the same way (warm-up, rounds of back-to-back calls at
least --min-round-us long, the median round's time per call).

  bn_cpu_torch.py [--threads 2] [--rounds 21] [--min-round-us 2000] [--shapes 50x300,...]

Ops (float32, CPU):
  fwd_train    F.batch_norm(x, rm, rv, weight, bias, training=True)  (also
               updates the running statistics, as graft's separate update does)
  fwd_infer    F.batch_norm(..., training=False)
  bwd          torch.autograd.grad of the training forward w.r.t. x, weight,
               bias (retain_graph: only the backward kernel is timed)
  dropout_fwd  F.dropout(x, 0.3, training=True)

Output, one line per case, as bn-cpu-bench's:
  torch_cpu op=OP batch=B features=F us=U spread=S
"""
import argparse
import time

import torch
import torch.nn.functional as F


def time_it(call, rounds, min_round_us):
    for _ in range(3):
        call()
    t0 = time.perf_counter()
    call()
    one = (time.perf_counter() - t0) * 1e6
    iters = max(1, int(min_round_us / max(one, 0.01)))
    per_call = []
    for _ in range(rounds):
        a = time.perf_counter()
        for _ in range(iters):
            call()
        per_call.append((time.perf_counter() - a) * 1e6 / iters)
    per_call.sort()
    med = per_call[len(per_call) // 2]
    return med, (per_call[-1] - per_call[0]) / med


def report(op, rows, cols, t):
    print("torch_cpu op=%s batch=%d features=%d us=%.2f spread=%.2f" % (op, rows, cols, t[0], t[1]), flush=True)


def run_shape(rows, cols, rounds, min_round_us):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(rows, cols, generator=g) * 5 - 2).requires_grad_(True)
    dy = torch.rand(rows, cols, generator=g) * 2 - 1
    w = (torch.rand(cols, generator=g) + 0.5).requires_grad_(True)
    b = (torch.rand(cols, generator=g) - 0.5).requires_grad_(True)
    rm = torch.zeros(cols)
    rv = torch.ones(cols)
    with torch.no_grad():
        report("fwd_train", rows, cols, time_it(
            lambda: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.01, eps=0.001), rounds, min_round_us))
        report("fwd_infer", rows, cols, time_it(
            lambda: F.batch_norm(x, rm, rv, w, b, training=False, eps=0.001), rounds, min_round_us))
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.01, eps=0.001)
    report("bwd", rows, cols, time_it(
        lambda: torch.autograd.grad(y, (x, w, b), dy, retain_graph=True), rounds, min_round_us))
    xd = x.detach()
    with torch.no_grad():
        report("dropout_fwd", rows, cols, time_it(
            lambda: F.dropout(xd, 0.3, training=True), rounds, min_round_us))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--min-round-us", type=float, default=2000)
    ap.add_argument("--shapes", default="50x300,50x100,4096x300,4096x100")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for s in a.shapes.split(","):
        rows, cols = (int(v) for v in s.split("x"))
        run_shape(rows, cols, a.rounds, a.min_round_us)


if __name__ == "__main__":
    main()
