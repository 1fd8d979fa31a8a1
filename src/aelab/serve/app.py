"""The explorer's web application: a FastAPI app whose JSON and PNG answers are the views of an
:class:`~aelab.serve.explorer.Explorer`, and the page that draws them (``static/``, shipped in the
package). Its API documentation is at ``/docs``.

Safe by default: items are addressed by their number, never by a path; uploads are limited in
bytes (and in pixels, by :mod:`aelab.limits`); nothing is ever written; a bad request gets a 4xx
answer whose ``detail`` is one line, and the server goes on serving.

Every handler is ``async``: the event loop reads requests and writes answers, and the explorer's
computing runs on one worker thread (:mod:`aelab.serve.batches`), which uses the model and the
indexes one call at a time and runs the searches and decodings that arrive together as one batch.
``benchmarks/serve_load.py`` measures it (docs/benchmarks/serving.md has the figures).
"""

from __future__ import annotations

import io
from contextlib import asynccontextmanager
from importlib import resources
from typing import Literal

import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image

from ..errors import AelabError
from .batches import Worker
from .documents import DocumentExplorer
from .explorer import MAX_GRID, MAX_K, MAX_STEPS, Explorer, NoSuchItem

MAX_UPLOAD_BYTES = 8 * 2**20  # an uploaded query image
Beside = Literal["pca", "pixels"]  # what a search by code is shown beside


def png(image: np.ndarray) -> Response:
    """An image of floats in [0, 1] (grey or RGB) as a PNG answer."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return Response(buffer.getvalue(), media_type="image/png", headers={"Cache-Control": "max-age=3600"})


def create_app(explorer: Explorer | DocumentExplorer) -> FastAPI:
    """The explorer's application over ``explorer`` (images and other rows, or documents)."""
    worker = Worker()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        worker.close()

    app = FastAPI(
        title="aelab explorer",
        summary=f"{explorer.name}: {len(explorer):,} items, the auto-encoder beside PCA",
        version="1",
        lifespan=lifespan,
    )
    _common(app)
    _listing(app, explorer)
    if isinstance(explorer, DocumentExplorer):
        _document_views(app, explorer, worker)
    else:
        _item_views(app, explorer, worker)
    return app


def _common(app: FastAPI) -> None:
    """The page, its script, and one-line answers for bad requests."""

    @app.exception_handler(AelabError)
    async def _bad_request(request: Request, exc: AelabError):
        return JSONResponse({"detail": str(exc)}, status_code=404 if isinstance(exc, NoSuchItem) else 400)

    @app.exception_handler(RequestValidationError)
    async def _bad_parameters(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'is not valid')}"}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return (resources.files(__package__) / "static" / "index.html").read_text(encoding="utf-8")

    @app.get("/explorer.js", include_in_schema=False)
    def script():
        text = (resources.files(__package__) / "static" / "explorer.js").read_text(encoding="utf-8")
        return Response(text, media_type="text/javascript")


def _listing(app: FastAPI, explorer: Explorer | DocumentExplorer) -> None:
    @app.get("/api/map")
    async def maps():
        """Every item's point on each map (the auto-encoder's and PCA's, or each document model's),
        and its label."""
        return JSONResponse(explorer.maps())  # plain JSON already: FastAPI's encoder would walk it again

    @app.get("/api/items/{item}")
    async def item(item: int):
        """An item's number, id and label (and a document's first line)."""
        return explorer.item(item)


def _item_views(app: FastAPI, explorer: Explorer, worker: Worker) -> None:
    @app.get("/api/info")
    async def info():
        """What is being explored: the collection, the model and its code."""
        return {
            "kind": "items",
            "name": explorer.name,
            "items": len(explorer),
            "code_size": int(explorer.codes.shape[1]),
            "image_shape": explorer.image_shape,
            "labels": sorted(set(explorer.labels)) if explorer.labels else None,
            "ae_view": explorer.view,
            "anomalies": explorer.scores_anomalies,
            "pca_components": explorer.pca.code_size,
            "limits": {"k": MAX_K, "grid": MAX_GRID, "steps": MAX_STEPS, "upload_bytes": MAX_UPLOAD_BYTES},
        }

    @app.get("/api/items/{item}/image.png", response_class=Response)
    async def item_image(item: int):
        return png(explorer.image(item))

    @app.get("/api/decode.png", response_class=Response)
    async def decode(x: float, y: float):
        """The image the decoder makes at a point of the auto-encoder's map."""
        return png(await worker.batch(explorer.decode_points, (x, y)))

    @app.get("/api/grid.png", response_class=Response)
    async def grid(x0: float, x1: float, y0: float, y1: float, n: int = Query(10, ge=1, le=MAX_GRID)):
        """Images decoded at an evenly spaced n x n grid over an area of the map (top row: y1)."""
        return png(await worker.run(explorer.grid, (x0, x1, y0, y1), n))

    @app.get("/api/items/{item}/neighbours")
    async def neighbours(item: int, k: int = Query(10, ge=1, le=MAX_K), beside: Beside = "pca"):
        """An item's nearest items by code and, beside them, by PCA of the code's size or by pixels,
        with their distances and the time each search took."""
        return JSONResponse(await worker.batch(explorer.neighbours_of_items, item, k, beside))

    @app.post("/api/neighbours")
    async def neighbours_of_upload(
        file: UploadFile = File(...), k: int = Query(10, ge=1, le=MAX_K), beside: Beside = "pca"
    ):
        """The nearest items to an uploaded image (resized to the items' size)."""
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"the upload is over {MAX_UPLOAD_BYTES:,} bytes; send a smaller image")
        row = explorer.read_image(data, "the upload")[0]
        return JSONResponse(await worker.batch(explorer.neighbours_of_rows, row, k, beside))

    @app.get("/api/items/{item}/reconstruction")
    async def reconstruction(item: int):
        """The squared errors of the auto-encoder's and PCA's reconstructions of an item."""
        found = await worker.run(explorer.reconstruction, item)
        return {"errors": found["errors"], "pca_components": found["pca_components"]}

    @app.get("/api/items/{item}/reconstruction/{which}.png", response_class=Response)
    async def reconstruction_image(item: int, which: str):
        rows = (await worker.run(explorer.reconstruction, item))["rows"]
        if which not in rows:
            raise HTTPException(404, f"no reconstruction {which!r}: ask for one of {', '.join(rows)}")
        return png(explorer.as_image(rows[which]))

    @app.get("/api/unusual")
    async def unusual(k: int = Query(24, ge=1, le=MAX_K)):
        """Every item's anomaly score (higher = more unusual), the model's threshold on them, and
        the k most unusual items."""
        return JSONResponse(await worker.run(explorer.unusual, k))

    @app.get("/api/items/{item}/error.png", response_class=Response)
    async def error_map(item: int):
        """Where the model failed to rebuild the item: a heat map, brighter where it failed more."""
        return png(await worker.run(explorer.error_map, item))

    @app.get("/api/interpolation.png", response_class=Response)
    async def interpolation(a: int, b: int, steps: int = Query(10, ge=2, le=MAX_STEPS)):
        """The images decoded on the line between the codes of items a and b."""
        return png(await worker.run(explorer.interpolation, a, b, steps))


def _document_views(app: FastAPI, explorer: DocumentExplorer, worker: Worker) -> None:
    @app.get("/api/info")
    async def info():
        """What is being explored: the documents and the search's models."""
        return {
            "kind": "documents",
            "name": explorer.name,
            "items": len(explorer),
            "code_size": explorer.engine.code_size,
            "models": explorer.models,
            "labels": sorted(set(explorer.labels)) if explorer.labels else None,
            "limits": {"k": MAX_K},
        }

    @app.get("/api/search")
    async def search(q: str, k: int = Query(10, ge=1, le=MAX_K), model: str | None = None):
        """A query's nearest documents (``score`` names what their scores are) and its predicted topic."""
        return await worker.run(explorer.search, q, k, model)
