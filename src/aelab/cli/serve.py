"""``aelab serve``: the explorer, a local web app over a trained model and a collection."""

from __future__ import annotations

import sys

from .common import DATA_OPTIONS, command, data_args, data_options, refuse, whole


def add_commands(sub) -> None:
    p = command(
        sub,
        "serve",
        "Explore a model in a browser: the code map beside PCA's, decoding, search, reconstruction; or a "
        "document search: text queries, topics and the document map.",
        "  aelab serve mnist-ae --data mnist --data-dir ../shared/data/mnist\n"
        "  aelab serve news-search          # a folder from 'aelab text train'\n"
        "  aelab serve aelab-demo/models/autoencoder-2 --data digits --port 8001\n"
        "  aelab serve mnist-codes --data mnist --data-dir ../shared/data/mnist   # an index folder, FAISS or Milvus\n",
    )
    p.add_argument(
        "model",
        metavar="DIR",
        help="trained auto-encoder folder, an index folder of its codes ('aelab index'), or a document search folder",
    )
    data_args(p, required=False)
    p.add_argument("--split", choices=("all", "train", "test"), default="all", help="which items to explore")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (other than this machine's: a warning)")
    p.add_argument("--port", type=whole(1, 65535), default=8000, help="port to listen on")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> None:
    from ..serve import LOCAL_HOSTS, is_document_search, is_index, open_explorer, run

    if is_document_search(args.model):
        refuse(args, DATA_OPTIONS, f"for a document search ({args.model} holds its own documents)")
    if is_index(args.model):
        refuse(
            args,
            ("split", "test_size", "split_seed", "label_column", "image_size"),
            f"for an index ({args.model} records how its collection was read; --data names where it is)",
        )
    explorer, name = open_explorer(args.model, data_options(args) if args.data else None, args.split)
    if args.host not in LOCAL_HOSTS:
        print(
            f"aelab: warning: listening on {args.host}, so other machines can reach the explorer; use the default "
            "127.0.0.1 to keep it to this one",
            file=sys.stderr,
        )
    print(f"explorer of {len(explorer):,} {name}: http://{args.host}:{args.port}/ (Ctrl-C ends it)")
    run(explorer, args.host, args.port)
