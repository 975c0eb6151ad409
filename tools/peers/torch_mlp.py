#!/usr/bin/env python3
"""PyTorch peer for graft's benchmarks: the same network, initialisation,
loss, clipping, optimizer, batch size and data as `graft-bench`.

Network 784-300-50-50-50-50-10, ReLU, Glorot-uniform weights, zero biases,
mean sparse softmax cross-entropy, SGD lr 0.01, gradient clipping by value
1.0, the per-epoch shuffle, on the first 55 000 Fashion-MNIST training images
(the classic split: the last 5 000 are validation).

The bn cases (train_bn_bN) train the same network with BatchNorm1d
(momentum 0.01 = TF's 0.99, eps 0.001) between each hidden Linear and its
ReLU, then Dropout(0.2): graft-bench's bn_dropout_spec.

Prints one line per case that tools/bench/compare.sh reads:
  peer CASE samples_per_s=X ms_per_epoch=Y spread=S
and, first, which BLAS/device the peer actually uses.

  python3 tools/peers/torch_mlp.py --device cpu --threads 2
  python3 tools/peers/torch_mlp.py --device cuda --graphs
  python3 tools/peers/torch_mlp.py --device cuda --graphs --synthetic   (no data set on the machine)
"""
import argparse
import gzip
import os
import statistics
import struct
import sys
import time

import torch

LAYERS = [784, 300, 50, 50, 50, 50, 10]
TRAIN_ROWS = 55000


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit(f"torch_mlp: {stem}[.gz] not found in {data_dir}")


def load_data(data_dir):
    x = read_idx(find(data_dir, "train-images-idx3-ubyte"))[:TRAIN_ROWS]
    y = read_idx(find(data_dir, "train-labels-idx1-ubyte"))[:TRAIN_ROWS]
    x = x.reshape(x.shape[0], -1).float() / 255.0
    return x.contiguous(), y.long().contiguous()


def synthetic_data(seed):
    """Random data of the same shape (graft-bench --synthetic): the timing does
    not depend on the values."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(TRAIN_ROWS, LAYERS[0], generator=g)
    y = torch.randint(0, LAYERS[-1], (TRAIN_ROWS,), generator=g)
    return x.contiguous(), y.long().contiguous()


BN_DROPOUT_RATE = 0.2


def make_model(device, bn_dropout=False):
    layers = []
    for i, (fi, fo) in enumerate(zip(LAYERS[:-1], LAYERS[1:])):
        lin = torch.nn.Linear(fi, fo)
        torch.nn.init.xavier_uniform_(lin.weight)  # Glorot uniform, as tf.layers.dense
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(LAYERS) - 2:
            if bn_dropout:
                # TF's momentum 0.99 is torch's 0.01 (the weight of the new batch).
                layers.append(torch.nn.BatchNorm1d(fo, momentum=0.01, eps=0.001))
            layers.append(torch.nn.ReLU())
            if bn_dropout:
                layers.append(torch.nn.Dropout(BN_DROPOUT_RATE))
    return torch.nn.Sequential(*layers).to(device)


def loaded_blas():
    """The BLAS libraries actually mapped into this process."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if "blas" in base or "mkl" in base or "lapack" in base:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def openblas_core():
    """OpenBLAS's own name for the kernel it picked (openblas_get_corename)."""
    import ctypes
    for lib in loaded_blas():
        if "openblas" in lib:
            try:
                h = ctypes.CDLL(lib)
                h.openblas_get_corename.restype = ctypes.c_char_p
                return h.openblas_get_corename().decode()
            except (OSError, AttributeError):
                pass
    return "n/a"


def train_epoch_eager(model, opt, x, y, batch, gen, sync):
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen, device="cpu").to(x.device)
    loss_fn = torch.nn.functional.cross_entropy
    for b in range(0, n, batch):
        idx = perm[b:b + batch]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        for p in model.parameters():
            p.grad.clamp_(-1.0, 1.0)  # tf.clip_by_value(grad, -1, 1)
        opt.step()
    sync()


class GraphStep:
    """One captured training step (CUDA Graphs) for full batches; the last
    partial batch runs eagerly."""

    def __init__(self, model, opt, x, y, batch):
        self.model, self.opt, self.batch = model, opt, batch
        # Static inputs of the graph, filled with real rows before the
        # warm-up steps (uninitialised labels trip cross_entropy's bounds
        # assert on the device).
        self.xb = x[:batch].clone()
        self.yb = y[:batch].clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                self._step()
        torch.cuda.current_stream().wait_stream(s)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()

    def _step(self):
        self.opt.zero_grad(set_to_none=False)
        loss = torch.nn.functional.cross_entropy(self.model(self.xb), self.yb)
        loss.backward()
        for p in self.model.parameters():
            p.grad.clamp_(-1.0, 1.0)
        self.opt.step()

    def epoch(self, x, y, gen):
        n = x.shape[0]
        perm = torch.randperm(n, generator=gen, device="cpu").to(x.device)
        full = n - n % self.batch
        for b in range(0, full, self.batch):
            idx = perm[b:b + self.batch]
            torch.index_select(x, 0, idx, out=self.xb)
            torch.index_select(y, 0, idx, out=self.yb)
            self.graph.replay()
        if full < n:
            idx = perm[full:]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            self.opt.zero_grad(set_to_none=False)
            torch.nn.functional.cross_entropy(self.model(xb), yb).backward()
            for p in self.model.parameters():
                p.grad.clamp_(-1.0, 1.0)
            self.opt.step()
        torch.cuda.synchronize()


def timed(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def report(case, rows, times):
    med = statistics.median(times)
    spread = (max(times) - min(times)) / med if med > 0 else 0.0
    print(f"peer {case} samples_per_s={rows / med:.0f} ms_per_epoch={med * 1e3:.3f} "
          f"spread={spread:.3f} repeats={len(times)}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    ap.add_argument("--batches", default="50,256,4096")
    ap.add_argument("--bn-batches", default="50,4096",
                    help="batch sizes of the batch-norm + dropout cases ('' for none)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--graphs", action="store_true", help="also time CUDA-Graph replay (cuda only)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--synthetic", action="store_true",
                    help="random data of the same shape instead of --data (as graft-bench --synthetic)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x, y = synthetic_data(args.seed) if args.synthetic else load_data(args.data)
    x, y = x.to(device), y.to(device)

    print(f"peer torch={torch.__version__} device={args.device} threads={torch.get_num_threads()} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', 'unset')} "
          f"data={'synthetic' if args.synthetic else args.data}", flush=True)
    if args.device == "cpu":
        # Touch a matmul so the BLAS is loaded before looking.
        torch.ones(64, 64) @ torch.ones(64, 64)
        print(f"peer blas={','.join(loaded_blas()) or 'builtin'} openblas_core={openblas_core()}",
              flush=True)
        sync = lambda: None
    else:
        print(f"peer gpu={torch.cuda.get_device_name(0)}", flush=True)
        sync = torch.cuda.synchronize

    gen = torch.Generator().manual_seed(args.seed)
    for batch in [int(b) for b in args.batches.split(",") if b]:
        model = make_model(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        times = timed(lambda: train_epoch_eager(model, opt, x, y, batch, gen, sync),
                      args.repeats, args.warmup)
        report(f"train_b{batch}", x.shape[0], times)
        if args.device == "cuda" and args.graphs:
            model = make_model(device)
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            step = GraphStep(model, opt, x, y, batch)
            times = timed(lambda: step.epoch(x, y, gen), args.repeats, args.warmup)
            report(f"train_b{batch}_graphs", x.shape[0], times)

    for batch in [int(b) for b in args.bn_batches.split(",") if b]:
        model = make_model(device, bn_dropout=True)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        times = timed(lambda: train_epoch_eager(model, opt, x, y, batch, gen, sync),
                      args.repeats, args.warmup)
        report(f"train_bn_b{batch}", x.shape[0], times)
        if args.device == "cuda" and args.graphs:
            model = make_model(device, bn_dropout=True)
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            step = GraphStep(model, opt, x, y, batch)
            times = timed(lambda: step.epoch(x, y, gen), args.repeats, args.warmup)
            report(f"train_bn_b{batch}_graphs", x.shape[0], times)

    # Inference at batch 10 000 over the same 55 000 rows.
    model = make_model(device)
    model.eval()

    def infer():
        with torch.inference_mode():
            for b in range(0, x.shape[0], 10000):
                model(x[b:b + 10000]).argmax(1)
        sync()

    report("infer_b10000", x.shape[0], timed(infer, args.repeats, args.warmup))


if __name__ == "__main__":
    main()
