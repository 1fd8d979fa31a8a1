"""``aelab text``: train a document search over a text collection, draw its map, query it."""

from __future__ import annotations

import json
from pathlib import Path

from ..params import (
    DOCUMENT_DEFAULTS,
    DOCUMENT_KEEP_NEIGHBOURS,
    DOCUMENT_KINDS,
    DOCUMENT_LOSSES,
    DOCUMENT_N_NEIGHBOURS,
    auto_or_float,
    auto_or_int,
)
from .anomalies import contamination_option
from .common import SEED, binary_bits, command, limit_args, params_from, positive, refuse, share, sizes, whole


def add_commands(sub) -> None:
    """Register ``aelab text train|map|search|score``."""
    top = command(
        sub,
        "text",
        "Documents: a search engine and a map over a text collection, the auto-encoder beside LSA.",
        "  aelab text train --data 20news-bydate.tar.gz --strip headers --out news\n"
        '  aelab text search news --query "orbit of the space shuttle"\n'
        "  aelab text map news2d --data 20news-bydate.tar.gz --out map.png\n",
    )
    text_sub = top.add_subparsers(dest="text_command", metavar="COMMAND", required=True)
    d = DOCUMENT_DEFAULTS

    p = command(
        text_sub,
        "train",
        "Fit the vocabulary, a document auto-encoder and LSA with the same code size, "
        "index the training documents, and report retrieval on the test documents.",
        "  aelab text train --data 20news-bydate.tar.gz --strip headers --out news\n"
        "  aelab text train --data 20news-bydate.tar.gz --strip headers --n-components 2 --out news2d\n"
        "  aelab text train --data reviews.csv --text-column body --input tfidf --loss mse --out reviews\n",
    )
    _text_data_args(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder to write (models, indexes, and the test metrics in search.json)",
    )
    m = p.add_argument_group("model")
    m.add_argument("--n-components", type=whole(1), default=d["n_components"], help="code size (2 for a map)")
    m.add_argument(
        "--binary",
        type=int,
        metavar="BITS",
        help="the auto-encoder's codes are BITS bits (a multiple of 8; sets --n-components), searched by Hamming "
        "distance; LSA stays beside it as it is",
    )
    m.add_argument(
        "--input",
        choices=("counts", "tf", "tfidf"),
        default="counts",
        help="the document vectors the auto-encoder reconstructs (LSA always uses TF-IDF)",
    )
    m.add_argument(
        "--loss",
        choices=DOCUMENT_LOSSES,
        default=d["loss"],
        help="multinomial: cross-entropy against each document's word distribution; mse: squared error",
    )
    m.add_argument("--vocabulary", type=whole(1), default=d["max_features"], help="the most frequent words kept")
    m.add_argument(
        "--hidden",
        type=sizes,
        default="-".join(map(str, d["hidden_layer_sizes"])),
        metavar="SIZES",
        help="encoder hidden sizes; the decoder mirrors them",
    )
    m.add_argument(
        "--denoise", default=d["denoise"], metavar="KIND:LEVEL", help="input noise while training ('none' for none)"
    )
    m.add_argument(
        "--keep-neighbours",
        type=auto_or_float,
        default=d["keep_neighbours"],
        metavar="WEIGHT|auto",
        help="weight of the term that keeps each document's nearest neighbours (by its words) near it in the "
        f"codes; auto: {DOCUMENT_KEEP_NEIGHBOURS:g}, or 0 for a 2-D map; 0: the former recipe (tanh layers, "
        "no batch norm)",
    )
    m.add_argument(
        "--n-neighbours",
        type=auto_or_int,
        default=d["n_neighbours"],
        metavar="K|auto",
        help="the nearest documents of each that --keep-neighbours keeps near it (fewer than the training "
        f"documents); auto: {DOCUMENT_N_NEIGHBOURS}, or every other document when there are not more",
    )
    m.add_argument(
        "--epochs",
        type=auto_or_int,
        default=d["epochs"],
        help="auto-encoder training epochs (auto: 40, or more for fewer documents than 4,096)",
    )
    m.add_argument(
        "--batch-size",
        type=auto_or_int,
        default=d["batch_size"],
        help="documents per training step (auto: 128, or fewer for fewer documents than 4,096)",
    )
    m.add_argument("--lr", type=positive, default=d["learning_rate"], help="peak learning rate (AdamW, one-cycle)")
    m.add_argument("--seed", type=SEED, default=0, help="seed of the models")
    m.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    limit_args(m, "model_bytes")
    p.set_defaults(func=cmd_text_train)

    p = command(
        text_sub,
        "map",
        "Draw the 2-D document map, the auto-encoder beside LSA, coloured by topic.",
        "  aelab text train --data 20news-bydate.tar.gz --strip headers --n-components 2 --out news2d\n"
        "  aelab text map news2d --data 20news-bydate.tar.gz --out map.png\n",
    )
    p.add_argument("search", metavar="DIR", help="folder written by 'aelab text train' with --n-components 2")
    _text_data_args(p, strip_default=None)
    p.add_argument("--split", choices=("train", "test", "all"), default="test", help="which documents to draw")
    p.add_argument("--out", required=True, metavar="FILE.png", help="figure to write")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_text_map)

    p = command(
        text_sub,
        "search",
        "The nearest documents of a query text, and its predicted topic.",
        '  aelab text search news --query "orbit of the space shuttle" -k 5\n'
        "  aelab text search news --query-file question.txt --model lsa --json\n",
    )
    p.add_argument("search", metavar="DIR", help="folder written by 'aelab text train'")
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--query", metavar="TEXT", help="the query, as words")
    q.add_argument("--query-file", metavar="FILE", help="a text file whose content is the query")
    p.add_argument("-k", type=whole(1), default=10, help="number of documents")
    p.add_argument("--model", choices=DOCUMENT_KINDS, default="autoencoder", help="whose codes to search")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_text_search)

    p = command(
        text_sub,
        "score",
        "The documents a search's model rebuilds worst (and whose codes lie farthest from the training "
        "documents'): an anomaly score per document, higher = more unusual.",
        "  aelab text score news --data 20news-bydate.tar.gz --out unusual.csv\n"
        "  aelab text score news --data 20news-bydate.tar.gz --split test --contamination 0.02 --out unusual.csv\n",
    )
    p.add_argument("search", metavar="DIR", help="folder written by 'aelab text train'")
    _text_data_args(p, strip_default=None)
    p.add_argument("--split", choices=("train", "test", "all"), default="all", help="which documents to score")
    p.add_argument("--model", choices=DOCUMENT_KINDS, default="autoencoder", help="whose scores")
    contamination_option(p, whose="training documents")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="id, label, score, flagged, first line")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_text_score)


def _text_data_args(p, strip_default: str | None = "none") -> None:
    g = p.add_argument_group("documents")
    g.add_argument(
        "--data",
        required=True,
        metavar="SPEC",
        help="a folder of text files (one sub-folder per label), a .tar.gz of one, or a .csv / .jsonl "
        "file with a text column",
    )
    g.add_argument(
        "--strip",
        default=strip_default,
        metavar="PARTS",
        help="remove e-mail parts: headers, quotes, signatures (comma-separated), all or none"
        + ("" if strip_default else " (default: as when trained)"),
    )
    g.add_argument("--text-column", metavar="NAME", help="text column of a CSV / JSON-lines table")
    g.add_argument("--label-column", metavar="NAME", help="label column of a CSV / JSON-lines table")
    g.add_argument("--test-size", type=share, default=0.2, help="hold-out share for data without its own split")
    g.add_argument("--split-seed", type=SEED, default=0, help="seed of that hold-out")
    limit_args(g, "file_bytes", "follow_links")


def text_options(args):
    """The text collection the document options name, as the jobs take it."""
    from ..jobs.data import TextOptions

    return TextOptions(args.data, args.strip, args.text_column, args.label_column, args.test_size, args.split_seed)


def cmd_text_train(args) -> None:
    from ..jobs.text import TextTrainRequest, text_train

    params_from(args, ("keep_neighbours", "n_neighbours"))  # a bad value is refused in the option's name
    if args.binary is not None:
        refuse(args, ("n_components",), f"with --binary {args.binary} (its bits are the code)")
        args.n_components = binary_bits(args.binary)
    request = TextTrainRequest(
        text_options(args),
        args.out,
        n_components=args.n_components,
        binary=args.binary,
        weighting=args.input,
        loss=args.loss,
        max_features=args.vocabulary,
        hidden_layer_sizes=args.hidden,
        denoise=args.denoise,
        keep_neighbours=args.keep_neighbours,
        n_neighbours=args.n_neighbours,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        random_state=args.seed,
        verbose=not args.quiet,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    result = text_train(request, log=lambda line: print(line, flush=True))
    print("\n".join(result.lines))
    print(
        f"\nsaved in {result.out} (metrics in search.json); query it with: "
        f'aelab text search {result.out} --query "some words"'
    )


def cmd_text_map(args) -> None:
    from ..jobs.text import TextMapRequest, text_map

    result = text_map(
        TextMapRequest(args.search, text_options(args), args.out, split=args.split, overwrite=args.overwrite)
    )
    for name, agreement in result.shares.items():
        print(f"{name}: {agreement:.4f} of each document's 10 nearest neighbours on the map share its topic")
    print(f"wrote {args.out}")


def cmd_text_search(args) -> None:
    from ..jobs.text import TextSearchRequest, search_documents
    from ..text import decode

    query = decode(Path(args.query_file).read_bytes()) if args.query_file else args.query
    engine, result = search_documents(TextSearchRequest(args.search, query, args.k, args.model))
    if args.json:
        print(json.dumps(result.as_dict()))
        return
    print(f"{result.words_used} of the query's {result.words} words are in the vocabulary and were used")
    index = engine.index(args.model)
    print(f"{args.model} codes ({engine.code_size}-D), scores: {index.score_name}")
    width = max([5] + [len(h.id) for h in result.hits])
    lwidth = max([5] + [len(str(h.label)) for h in result.hits])
    print(f"{'rank':>4}  {'id':<{width}}  {'score':>6}  {'label':<{lwidth}}  first line")
    for h in result.hits:
        print(f"{h.rank:>4}  {h.id:<{width}}  {h.score:>6.3f}  {str(h.label):<{lwidth}}  {h.first_line}")
    if result.topics:
        print("predicted topic: " + ", ".join(f"{label} {share:.0%}" for label, share in result.topics[:5]))


def cmd_text_score(args) -> None:
    from ..jobs import TextScoreRequest, score_documents
    from .anomalies import print_scores

    print_scores(
        score_documents(
            TextScoreRequest(
                search=args.search,
                data=text_options(args),
                out=args.out,
                split=args.split,
                model=args.model,
                contamination=args.contamination,
                overwrite=args.overwrite,
            )
        )
    )
