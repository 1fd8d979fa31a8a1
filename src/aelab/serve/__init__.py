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
    """Serve ``explorer`` with uvicorn until interrupted. Requests are answered by a pool of
    threads; torch and FAISS then each use one thread a request, so that many requests at once
    share the cores instead of each asking for all of them."""
    import faiss
    import torch
    import uvicorn

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    uvicorn.run(create_app(explorer), host=host, port=port, log_level="warning")
