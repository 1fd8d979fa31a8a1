"""``aelab serve``: the lecture's pictures live in a browser, over a trained model and a collection.

>>> from aelab.serve import Explorer, create_app   # doctest: +SKIP
>>> app = create_app(Explorer(model, ds.test.X, ds.test.y, image_shape=ds.image_shape))
"""

from __future__ import annotations

from .app import create_app
from .documents import DocumentExplorer
from .explorer import Explorer

__all__ = ["DocumentExplorer", "Explorer", "create_app", "run"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def run(explorer: Explorer, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``explorer`` with uvicorn until interrupted.

    Torch and FAISS use one thread each: the explorer's worker computes while the event loop
    reads and writes requests, and its small batches gain nothing from more. What exists before
    serving (the explorer's items, ids and indexes, the libraries) is frozen out of the garbage
    collector, whose full collections would otherwise walk all of it every few seconds, stalling
    every request at once."""
    import gc

    import faiss
    import torch
    import uvicorn

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    app = create_app(explorer)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning")
