"""Milvus at scale: build time, recall@10 and latency of aelab's Milvus-backed index beside FAISS.

N synthetic 30-D codes (the mixture of 100 Gaussians of index_scale.py) go, through aelab's own
index classes, into Milvus Lite (an exact FLAT collection and an HNSW one) and into FAISS (exact,
and IVF-PQ, aelab's compact index). For held-out queries: recall@10 against FAISS's exact search,
and the median and 95th-percentile latency of single queries (queries are already codes: this
measures the engines, not the encoder). Euclidean distance.

Milvus Lite runs inside this process; a Milvus server or cluster answers over the network, so its
latencies add a round trip and its build scales with its query and data nodes (docs/search.md).

    python benchmarks/milvus_scale.py [--n 1000000] [--queries 500] [--kinds exact,hnsw]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from aelab.search import Index
from aelab.search.milvus import Engine, MilvusIndex
from index_scale import codes

BATCH = 50_000


def latency(index, Q: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Each query alone: the positions found, and the median and 95th-percentile milliseconds."""
    found, times = [], []
    for row in Q:
        t = time.perf_counter()
        found.append(index.query(row[None, :], 10).positions[0])
        times.append(time.perf_counter() - t)
    return np.array(found), 1000 * float(np.median(times)), 1000 * float(np.percentile(times, 95))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=30)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--kinds", default="exact,hnsw", help="Milvus index kinds to build")
    args = p.parse_args()

    rng = np.random.default_rng(0)
    X, Q = codes(args.n, args.dim, rng), codes(args.queries, args.dim, rng)
    print(f"{args.n:,} synthetic {args.dim}-D codes, {args.queries} single queries, Euclidean distance, k = 10")
    print(f"{'engine':<22} {'build s':>8} {'recall@10':>9} {'median ms':>9} {'p95 ms':>7}")

    def report(name, seconds, index, truth=None):
        found, median, p95 = latency(index, Q)
        print(
            f"{name:<22} {seconds:>8.1f} {recall(found, truth if truth is not None else found):>9.4f} "
            f"{median:>9.3f} {p95:>7.3f}",
            flush=True,
        )
        return found

    t = time.perf_counter()
    exact = Index.build(X, metric="l2", kind="exact")
    truth = report("FAISS exact", time.perf_counter() - t, exact)
    t = time.perf_counter()
    ivfpq = Index(metric="l2", kind="ivfpq").add(X)
    report("FAISS IVF-PQ", time.perf_counter() - t, ivfpq, truth)
    del exact, ivfpq

    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds.split(","):
            out = Path(folder) / f"milvus-{kind}"
            t = time.perf_counter()
            index = MilvusIndex.create(Engine.parse(f"milvus://codes.db/bench_{kind}"), out, "l2", kind, "code")
            for start in range(0, len(X), BATCH):
                index.add(X[start : start + BATCH])
            index.save(out)
            report(f"Milvus Lite {kind}", time.perf_counter() - t, index, truth)
            index.close()


if __name__ == "__main__":
    main()
