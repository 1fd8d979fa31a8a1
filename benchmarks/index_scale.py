"""Index scale: build time, memory, latency and recall of approximate search on synthetic codes.

N synthetic 30-D codes (a mixture of 100 Gaussians, like the codes of a trained auto-encoder)
go into an exact index and into HNSW and IVF indexes. For 1,000 held-out queries: recall@10 of
the approximate index against exact search, and the median and 95th-percentile latency of single
queries. Target: recall@10 >= 0.95 at under 1 ms per query.

IVF-PQ keeps a few bytes a vector in memory: 4 bits a group of 3 dimensions, scanned by FAISS's
SIMD fast scan (its full vectors stay on disk, memory-mapped, to re-rank each query's shortlist
exactly).

    python benchmarks/index_scale.py [--n 1000000] [--dim 30] [--kinds hnsw,ivf,ivfpq]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from aelab.search import Index


def codes(n: int, dim: int, rng) -> np.ndarray:
    centres = rng.normal(size=(100, dim)) * 3
    return (centres[rng.integers(0, 100, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def search(index: Index, Q: np.ndarray) -> np.ndarray:
    """FAISS's own search (IVF-PQ: aelab's, which re-ranks the shortlist with the full vectors)."""
    return index.query(Q, 10).positions if index.kind_ == "ivfpq" else index.faiss_index.search(Q, 10)[1]


def latency(index: Index, Q: np.ndarray) -> tuple[float, float]:
    times = []
    for row in Q:
        t = time.perf_counter()
        search(index, row[None, :])
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times)), 1000 * float(np.percentile(times, 95))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=30)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument(
        "--kinds", default="hnsw,ivf,ivfpq", help="approximate indexes to build (HNSW is slow to build at 10M)"
    )
    p.add_argument("--rerank", type=int, default=100, help="IVF-PQ's shortlist, in multiples of k")
    p.add_argument("--probes", help="comma-separated probe counts for IVF-PQ (default 32,64,96,128,160)")
    args = p.parse_args()

    rng = np.random.default_rng(0)
    X, Q = codes(args.n, args.dim, rng), codes(args.queries, args.dim, rng)
    print(f"{args.n:,} synthetic {args.dim}-D codes, {args.queries} queries, Euclidean distance")
    t = time.perf_counter()
    exact = Index.build(X, metric="l2", kind="exact")
    truth = exact.query(Q, 10).positions
    med, p95 = latency(exact, Q[:200])
    print(
        f"exact: build {time.perf_counter() - t:.1f} s (incl. the 1,000 ground-truth queries), "
        f"{exact.memory_bytes() / 2**20:.0f} MB, latency median {med:.2f} ms, p95 {p95:.2f} ms"
    )
    del exact
    sweeps = (
        ("hnsw", "efSearch", (64, 128, 256, 512)),
        ("ivf", "nprobe", (8, 16, 32, 64, 96, 128, 192)),
        ("ivfpq", "nprobe", tuple(int(v) for v in (args.probes or "32,64,96,128,160").split(","))),
    )
    for kind, knob, values in sweeps:
        if kind not in args.kinds.split(","):
            continue
        t = time.perf_counter()
        index = Index.build(X, metric="l2", kind=kind, **({"rerank": args.rerank} if kind == "ivfpq" else {}))
        build, memory = time.perf_counter() - t, index.memory_bytes()  # memory: the index serialised
        print(
            f"{kind}: build {build:.0f} s, {memory / 2**20:.0f} MB ({memory / args.n:.1f} bytes a vector in memory); "
            f"peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        for value in values:
            if kind == "hnsw":
                index.faiss_index.hnsw.efSearch = value
            else:
                index.faiss_index.nprobe = value
            found = search(index, Q)
            recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, truth)])
            med, p95 = latency(index, Q[:300])
            print(
                f"  {knob} {value:4d}: recall@10 {recall:.4f}, latency median {med:.3f} ms, p95 {p95:.3f} ms",
                flush=True,
            )
        del index


if __name__ == "__main__":
    main()
