"""``aelab index``, ``search`` and ``evaluate-retrieval``: search by code over a collection."""

from __future__ import annotations

import json

from ..params import INDEX_KINDS, METRICS, SPACES
from .common import command, data_args, data_options, limit_args, refuse, whole


def add_commands(sub) -> None:
    p = command(
        sub,
        "index",
        "Encode a collection and store it as a searchable index folder (FAISS).",
        "  aelab index mnist-ae --data mnist --data-dir ../shared/data/mnist --out mnist-codes\n"
        "  aelab index --space pixels --data mnist --out mnist-pixels --metric l2\n"
        "  aelab index mnist-ae --space pca --data mnist --out mnist-pca\n"
        "  aelab index --add mnist-codes --data more-images/   # add items to an existing index\n"
        "  aelab index mnist-ae --from codes.parquet --out mnist-codes   # codes written by aelab encode\n"
        "  aelab index mnist-ae --data mnist --out mnist-milvus --engine milvus://localhost:19530/mnist\n",
    )
    p.add_argument(
        "model",
        metavar="DIR",
        nargs="?",
        help="trained model folder (for --space code; for --space pca it sets the code size)",
    )
    data_args(p, required=False)
    p.add_argument(
        "--from",
        dest="codes",
        metavar="FILE.parquet",
        help="index the codes of this table instead of --data (id, code and optionally label and path columns, as "
        "'aelab encode --out FILE.parquet' writes them); the model folder, if given, encodes queries",
    )
    p.add_argument("--out", metavar="INDEX", help="index folder to write")
    p.add_argument("--add", metavar="INDEX", help="add the data to this existing index instead (same space)")
    p.add_argument(
        "--space",
        choices=SPACES,
        default="code",
        help="code: the model's codes; pca: PCA scores fitted on the collection; pixels: the raw inputs (the "
        "baseline); pcah, itq: binary codes from PCA (its signs; ITQ's rotation of them), the baselines of --binary",
    )
    p.add_argument(
        "--n-components",
        type=whole(1),
        help="code size for --space pca, pcah or itq without a model (default 30 numbers, or 32 bits)",
    )
    p.add_argument(
        "--metric",
        choices=METRICS,
        help="similarity, fixed when indexing (default: hamming for binary codes, l2 for codes that keep their "
        "inputs' neighbours, else cosine)",
    )
    p.add_argument(
        "--kind",
        choices=INDEX_KINDS,
        default="auto",
        help="exact search, approximate HNSW or IVF, IVF-PQ (a few bytes a vector in memory, its shortlist "
        "re-ranked exactly from the full vectors on disk), or auto (exact up to 200,000 items, IVF above)",
    )
    p.add_argument(
        "--shards",
        type=whole(1),
        help="with --kind ivfpq: train once on a sample, add the collection in this many shards (each in a "
        "process of its own, atomic and resumable: run the same command again after an interruption), then merge",
    )
    p.add_argument("--workers", type=whole(1), default=1, help="with --shards: processes adding shards at once")
    p.add_argument(
        "--engine",
        metavar="URL",
        help="keep the vectors in Milvus instead of FAISS: milvus://HOST[:PORT]/COLLECTION (a Milvus server or "
        "cluster) or milvus://NAME.db/COLLECTION (Milvus Lite, its database inside the index folder); needs "
        "pip install 'aelab[milvus]'",
    )
    p.add_argument("--split", choices=("all", "train", "test"), default="train", help="which samples to index")
    p.add_argument("--batch-size", type=whole(1), default=8192, help="samples encoded and added at a time")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read a .npy file (memory-mapped) or an image folder a "
        "batch at a time, for collections larger than memory; every sample is indexed (no split)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_index)

    p = command(
        sub,
        "search",
        "The nearest items of an index to a query image, file or item id.",
        "  aelab search mnist-codes --query train:7 -k 10\n"
        "  aelab search photos-index --query cat.png --figure neighbours.png\n"
        "  aelab search mnist-codes --query test-image.npy --json\n",
    )
    p.add_argument("index", metavar="INDEX", help="index folder written by 'aelab index'")
    p.add_argument(
        "--query",
        required=True,
        metavar="FILE_OR_ID",
        help="an item id of the index, an image file, or a .npy file with one sample",
    )
    p.add_argument("-k", type=whole(1), default=10, help="number of neighbours")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--figure", metavar="FILE.png", help="draw the query beside its neighbours")
    p.add_argument(
        "--beside",
        metavar="INDEX",
        help="with --figure: also draw the neighbours found in this index "
        "of the same collection (e.g. its pixel-space index)",
    )
    p.add_argument(
        "--no-resize",
        dest="resize",
        action="store_false",
        help="refuse a query image of another size than the collection's, instead of resizing it",
    )
    p.add_argument(
        "--data",
        metavar="SPEC",
        help="with --figure: the collection the index was built from, to draw its items (needed unless "
        "that is a built-in data set; paths stored in an index folder are never opened)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="with --data mnist / fashion-mnist: the folder of their IDX files")
    limit_args(p, "image_pixels", "file_bytes", "follow_links")
    p.add_argument("--overwrite", action="store_true", help="replace --figure if it exists")
    p.set_defaults(func=cmd_search)

    p = command(
        sub,
        "evaluate-retrieval",
        "Precision, mean average precision, precision-recall and speed of indexes, with labels as relevance.",
        "  aelab evaluate-retrieval --index mnist-codes --index mnist-pca --index mnist-pixels \\\n"
        "      --queries mnist --data-dir ../shared/data/mnist\n",
    )
    p.add_argument(
        "--index",
        required=True,
        action="append",
        metavar="INDEX",
        help="index folder (repeat to compare spaces side by side)",
    )
    data_args(p, flag="--queries")
    p.add_argument("--split", choices=("train", "test", "all"), default="test", help="which samples query")
    p.add_argument("--n-queries", type=whole(1), help="use only the first N queries")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="folder for metrics.json and the precision-recall figure (default: INDEX-retrieval[-N])",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_evaluate_retrieval)


def cmd_index(args) -> None:
    from ..jobs.search import IndexRequest, index

    if args.codes:
        refuse(
            args, ("split", "test_size", "split_seed", "label_column", "image_size"), "with --from (a table of codes)"
        )
    request = IndexRequest(  # --out or --add, --shards with --kind ivfpq: checked when made
        data_options(args) if args.data else None,
        out=args.out,
        add=args.add,
        model=args.model,
        space=args.space,
        metric=args.metric,
        kind=args.kind,
        n_components=args.n_components,
        split=args.split,
        stream=args.stream,
        batch_size=args.batch_size,
        shards=args.shards,
        workers=args.workers,
        overwrite=args.overwrite,
        codes=args.codes,
        engine=args.engine,
    )
    if args.shards is None:
        refuse(args, ("workers",), "without --shards (its processes add shards)")
    if args.add:
        refuse(args, ("model", "space", "metric", "kind", "n_components"), "with --add (the index keeps its own)")
    elif args.space in ("code", "pixels"):
        refuse(args, ("n_components",), f"for --space {args.space} (its vectors have their own size)")
    if args.stream:
        refuse(args, ("split", "test_size", "split_seed", "label_column"), "with --stream (every sample is indexed)")
    result = index(request)
    built = result.index
    print(
        f"{'added' if args.add else 'indexed'} {result.added} items ({built.space} space, {built.dimension}-D, "
        f"{built.metric}, {getattr(built, 'kind_', built.kind)} search); {len(built)} items in {result.out}"
    )


def cmd_search(args) -> None:
    from ..jobs.search import SearchRequest, find

    request = SearchRequest(
        args.index, args.query, args.k, args.resize, args.figure, args.beside, args.data, args.data_dir, args.overwrite
    )
    if not args.figure:
        refuse(args, ("data", "data_dir"), "without --figure (the collection is read only to draw its items)")
    result = find(request)
    index, rows = result.index, result.neighbours
    if args.json:
        print(json.dumps({"query": args.query, "metric": index.metric, "space": index.space, "neighbours": rows}))
    else:
        print(f"query: {result.query}; {index.space} space, scores: {index.score_name}")
        print(f"{'rank':>4}  {'id':<14} {'score':>10}  {'label':<10} path")
        for row in rows:
            print(
                f"{row['rank']:>4}  {row['id']:<14} {row['score']:>10.4f}  {str(row['label']):<10} {row['path'] or ''}"
            )
    if args.figure:
        print(f"wrote {args.figure}")


def cmd_evaluate_retrieval(args) -> None:
    from ..jobs.search import EvaluateRetrievalRequest, evaluate_retrieval

    request = EvaluateRetrievalRequest(
        args.index, data_options(args), args.split, args.n_queries, args.out, args.overwrite
    )
    result = evaluate_retrieval(request)
    print(f"queries: {result.n_queries} {args.split} samples of {result.data}; relevant = same label\n\n{result.table}")
    print(f"metrics.json and precision-recall.png in {result.out}")
