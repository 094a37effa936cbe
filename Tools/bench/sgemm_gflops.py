#!/usr/bin/env python3
"""OpenBLAS sgemm GFLOP/s at the GEMM shapes of SuperPoint's convolutions at 640x480.

A 3x3 convolution as im2col + GEMM is C[M x N] = W[M x K] * cols[K x N] with M = output channels,
K = input channels * 9 and N = output pixels; a 1x1 convolution has K = input channels.
GFLOP/s = 2*M*K*N / median seconds / 1e9, over --runs timed calls after --warmup calls.

Two BLAS builds can be timed (--lib):
  system  the distribution's libopenblas.so.0 through ctypes (cblas_sgemm, row-major), which is the
          library the Swift engine links (COpenBLAS); its kernel is read with openblas_get_corename.
  numpy   numpy's bundled OpenBLAS (np.matmul into a preallocated output), limited to --threads with
          threadpoolctl when installed (which also reports its kernel architecture).
OPENBLAS_CORETYPE is read, never set: whatever the environment pins is what gets measured.

--band N also times the same product split into column bands of N pixels (the cache-friendly way of
running im2col per row band): same flops, smaller B and C working sets.
"""
import argparse
import ctypes
import ctypes.util
import os
import statistics
import time

import numpy as np

# (layer, M = out channels, K = in channels * kernel area, N = output pixels at 640x480)
SHAPES = [
    ("conv1b", 64, 64 * 9, 640 * 480),
    ("conv2a", 64, 64 * 9, 320 * 240),
    ("conv3b", 128, 128 * 9, 160 * 120),
    ("conv4b", 128, 128 * 9, 80 * 60),
    ("convPa", 256, 128 * 9, 80 * 60),
    ("convDb", 256, 256, 80 * 60),
]

CBLAS_ROW_MAJOR, CBLAS_NO_TRANS = 101, 111


class SystemOpenBLAS:
    def __init__(self, threads):
        name = ctypes.util.find_library("openblas") or "libopenblas.so.0"
        self.lib = ctypes.CDLL(name)
        self.path = name
        f = ctypes.c_float
        p = ctypes.c_void_p
        i = ctypes.c_int
        self.lib.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
        self.lib.cblas_sgemm.restype = None
        for getter in ("openblas_get_config", "openblas_get_corename"):
            getattr(self.lib, getter).restype = ctypes.c_char_p
        self.lib.openblas_set_num_threads(threads)

    def describe(self):
        return (f"{self.path}: {self.lib.openblas_get_config().decode()}; kernel (corename) "
                f"{self.lib.openblas_get_corename().decode()}; threads {self.lib.openblas_get_num_threads()}")

    def gemm(self, a, b, c):
        m, k = a.shape
        n = b.shape[1]
        self.lib.cblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, m, n, k, 1.0,
                             a.ctypes.data, a.strides[0] // 4, b.ctypes.data, b.strides[0] // 4,
                             0.0, c.ctypes.data, c.strides[0] // 4)


class NumpyOpenBLAS:
    def __init__(self, threads):
        self.limits = None
        self.info = "threadpoolctl not installed: thread count and kernel not controlled/reported"
        try:
            import threadpoolctl
        except ImportError:
            return
        self.limits = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
        # The system library, once loaded through ctypes, shows up here too: keep numpy's own.
        numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
        blas = [lib for lib in threadpoolctl.threadpool_info()
                if lib.get("user_api") == "blas" and lib.get("filepath", "").startswith(numpy_dir)]
        self.info = "; ".join(f"{lib.get('internal_api')} {lib.get('version')} ({os.path.basename(lib.get('filepath', ''))}): "
                              f"kernel architecture {lib.get('architecture')}, threads {lib.get('num_threads')}"
                              for lib in blas) or "no BLAS found by threadpoolctl"

    def describe(self):
        return f"numpy {np.__version__}: {self.info}"

    def gemm(self, a, b, c):
        np.matmul(a, b, out=c)


def time_gemm(blas, m, k, n, band, runs, warmup, rng):
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    if band:
        # Each band is a contiguous K x band block (as an im2col per row band would produce).
        starts = range(0, n, band)
        b_bands = [np.ascontiguousarray(b[:, s:s + band]) for s in starts]
        c_bands = [np.empty((m, bb.shape[1]), dtype=np.float32) for bb in b_bands]

        def call():
            for bb, cb in zip(b_bands, c_bands):
                blas.gemm(a, bb, cb)
    else:
        def call():
            blas.gemm(a, b, c)
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    flops = 2.0 * m * k * n
    return [flops / s / 1e9 for s in seconds], statistics.median(seconds) * 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--lib", choices=["system", "numpy", "both"], default="both")
    p.add_argument("--band", type=int, default=0, help="also time column bands of this many pixels (e.g. 4800)")
    p.add_argument("--layers", nargs="+", default=[s[0] for s in SHAPES], choices=[s[0] for s in SHAPES])
    args = p.parse_args()

    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    libraries = []
    if args.lib in ("system", "both"):
        libraries.append(("system", SystemOpenBLAS(args.threads)))
    if args.lib in ("numpy", "both"):
        libraries.append(("numpy", NumpyOpenBLAS(args.threads)))
    for name, blas in libraries:
        print(f"{name}: {blas.describe()}")
    print()
    rng = np.random.default_rng(0)
    header = ["layer", "M", "K", "N", "GFLOP", "lib", "median ms", "GFLOP/s median", "min", "max"]
    rows = []
    for layer, m, k, n in SHAPES:
        if layer not in args.layers:
            continue
        for name, blas in libraries:
            for band in ([0, args.band] if args.band else [0]):
                rates, median_ms = time_gemm(blas, m, k, n, band, args.runs, args.warmup, rng)
                label = name if not band else f"{name}, bands of {band}"
                rows.append([layer, m, k, n, f"{2 * m * k * n / 1e9:.2f}", label, f"{median_ms:.1f}",
                             f"{statistics.median(rates):.0f}", f"{min(rates):.0f}", f"{max(rates):.0f}"])
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    print()
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).rjust(w) if i in (1, 2, 3, 4, 6, 7, 8, 9) else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))))
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
