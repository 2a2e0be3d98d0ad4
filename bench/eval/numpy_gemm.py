"""The distance product through numpy (OpenBLAS from Debian's libopenblas0-pthread), driven by FastReid.Bench.Eval.

usage: numpy_gemm.py QUERIES GALLERY DIM BLOCK_ROWS
Prints "ready" with numpy's BLAS, then answers each "run" line on stdin with the seconds of one
product Q x G^T of L2-normalised float32 rows: one matmul when BLOCK_ROWS is 0, else matmuls of
BLOCK_ROWS query rows into one reused buffer (the evaluator's shape at MSMT17 scale).
"""
import sys
import time

import numpy as np


def main():
    queries, gallery, dim, block = (int(a) for a in sys.argv[1:5])
    rng = np.random.default_rng(0)
    q = rng.standard_normal((queries, dim), dtype=np.float32)
    g = rng.standard_normal((gallery, dim), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    rows = block or queries
    out = np.empty((rows, gallery), dtype=np.float32)
    blas = np.__config__.get_info("blas_opt_info").get("libraries", ["?"])
    print("ready", ",".join(blas), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        start = time.perf_counter()
        for s in range(0, queries, rows):
            n = min(rows, queries - s)
            np.matmul(q[s:s + n], g.T, out=out[:n])
        print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
