"""What the command groups share: the help layout, the data options, and the options made from the
parameter table of :mod:`aelab.params`. Nothing here imports torch: ``aelab --help`` answers at once."""

from __future__ import annotations

import argparse

from ..errors import ParameterError
from ..params import TABLE, check_bits


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option's default shown."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "%(default)" not in text
            and not (default is None or default is False or default is True or default is argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """argparse, with a wrong option or value reported as every other error is: one line, exit 1."""

    def error(self, message: str):
        self.exit(1, f"aelab: error: {' '.join(message.split())} (see '{self.prog} --help')\n")


def command(sub, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A sub-command parser with its help and examples. It keeps itself in the parsed arguments
    (``args.parser``), so that a command can tell which of its options were given (:func:`given`)."""
    p = sub.add_parser(name, help=help, description=help, formatter_class=Formatter, epilog="examples:\n" + examples)
    p.set_defaults(parser=p)
    return p


# --- values, each read and checked where the option is declared ---------------------------------------
SEED_MAX = 2**32 - 1  # the largest seed NumPy's and scikit-learn's generators take


def whole(low: int, high: int | None = None):
    """An argparse ``type``: a whole number from ``low`` (to ``high``), or a one-line error."""

    def read(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
            raise argparse.ArgumentTypeError(f"give a whole number {span}, not {value}")
        return value

    return read


def number(valid, expect: str):
    """An argparse ``type``: a number that ``valid`` takes (``expect`` says which, in words)."""

    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"give {expect}, not {text}")
        return value

    return read


share = number(lambda v: 0 < v < 1, "a share between 0 and 1")  # a hold-out share, both ends left out
positive = number(lambda v: 0 < v < float("inf"), "a number above 0")
SEED = whole(0, SEED_MAX)


def given(args, *dests: str) -> list[str]:
    """The options among ``dests`` (argument names) that this command line gave a value other than
    their default, as the user typed them (``--data``)."""
    actions = {a.dest: a for a in args.parser._actions}
    found = []
    for dest in dests:
        action = actions[dest]
        default = action.default  # argparse reads a default given as text as it reads the option
        if isinstance(default, str) and callable(action.type):
            default = action.type(default)
        if getattr(args, dest, None) != default:
            found.append(action.option_strings[0] if action.option_strings else action.metavar or dest)
    return found


def refuse(args, dests, why: str) -> None:
    """One line when any of the options ``dests`` was given where it has no meaning (``why``)."""
    found = given(args, *dests)
    if found:
        raise ParameterError(
            f"{', '.join(found)} {'has' if len(found) == 1 else 'have'} no meaning {why}; leave "
            f"{'it' if len(found) == 1 else 'them'} out"
        )


def sizes(text: str) -> tuple[int, ...] | str:
    """``"1000-500-250"`` (or commas) to ``(1000, 500, 250)``; ``"auto"`` stays ``"auto"``."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        values = tuple(int(s) for s in text.replace(",", "-").split("-") if s.strip())
        if not values or any(s < 1 for s in values):
            raise ValueError
        return values
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of positive sizes like 1000-500-250") from None


def binary_bits(bits: int) -> int:
    """The bits of ``--binary BITS``, or a one-line error (the rule of :func:`aelab.params.check_bits`)."""
    return check_bits(bits, "--binary")


def data_args(p: argparse.ArgumentParser, required: bool = True, flag: str = "--data") -> None:
    """The options that name a data set and how to split it (``aelab.datasets.load``)."""
    g = p.add_argument_group("data" if flag == "--data" else "queries")
    g.add_argument(
        flag,
        required=required,
        metavar="SPEC",
        dest="data",
        help="digits, mnist, fashion-mnist, a folder (IDX files, images in label sub-folders, or WebDataset .tar "
        "shards), or a .npy, .npz, .csv, .tar or IDX file",
    )
    g.add_argument("--data-dir", metavar="DIR", help="folder holding the IDX files of mnist / fashion-mnist")
    g.add_argument("--test-size", type=share, default=0.2, help="hold-out share for data without its own split")
    g.add_argument("--split-seed", type=SEED, default=0, help="seed of that hold-out")
    g.add_argument("--label-column", metavar="NAME", help="label column of a CSV table (name or index)")
    g.add_argument("--image-size", metavar="HxW", help="resize every image of an image folder to this size")
    limit_args(g, "image_pixels", "file_bytes", "follow_links")


#: The options of :func:`data_args` that say which data and how to split it.
DATA_OPTIONS = ("data", "data_dir", "test_size", "split_seed", "label_column", "image_size", "split")


def limit_args(p: argparse.ArgumentParser, *names: str) -> None:
    """Options that raise (or lower) the limits of :mod:`aelab.limits` for this command."""
    from ..limits import OPTIONS, Limits

    helps = {
        "image_pixels": "refuse images of more pixels than this (decompression bombs)",
        "file_bytes": "refuse a data file whose contents would take more bytes than this in memory",
        "images": "refuse a request for more images than this (a grid, samples)",
        "model_bytes": "refuse a model whose weights would take more bytes than this",
        "follow_links": "follow links inside a collection that lead outside it (refused by default: a folder "
        "from someone else must not make aelab read other files)",
    }
    for name in names:
        if name == "follow_links":
            p.add_argument(OPTIONS[name], dest=f"limit_{name}", action="store_true", help=helps[name])
            continue
        p.add_argument(
            OPTIONS[name],
            dest=f"limit_{name}",
            type=int,
            metavar="N",
            default=getattr(Limits(), name),
            help=helps[name],
        )


def limits_from(args) -> dict:
    """The limits of :mod:`aelab.limits` that this command's options set."""
    from ..limits import OPTIONS

    return {name: getattr(args, f"limit_{name}") for name in OPTIONS if hasattr(args, f"limit_{name}")}


def data_options(args):
    """The collection the data options name, as the jobs take it."""
    from ..datasets import parse_image_size
    from ..jobs.data import DataOptions

    return DataOptions(
        args.data,
        args.data_dir,
        test_size=args.test_size,
        split_seed=args.split_seed,
        label_column=args.label_column,
        image_size=parse_image_size(args.image_size),
    )


def add_params(group, names, **defaults) -> None:
    """CLI options for the table parameters ``names`` (with the estimator's own ``defaults``)."""
    for name in names:
        p = TABLE[name]
        default = defaults.get(name, p.default if p.cli_default is ... else p.cli_default)
        kw = dict(dest=p.name, help=p.cli_help or p.help, default=default)
        if p.action:
            kw["action"] = p.action
        else:
            kw.update(type=p.type, metavar=p.metavar)
            if p.choices:
                kw["choices"] = [c for c in p.choices if c is not None]
        group.add_argument(p.option, **kw)


def params_from(args, names) -> dict:
    """The estimator arguments of the table parameters ``names``, as given on the command line. They
    are checked once, where the estimator or the job's request checks them (an error names the
    option: :func:`as_options`)."""
    return {name: getattr(args, name) for name in names}


def as_options(message: str) -> str:
    """A message that names a table parameter (``batch_size``) the way the command line spells it
    (``--batch-size``): the first parameter it names, where it first does."""
    import re

    found = [(m.start(), p) for p in TABLE.values() if (m := re.search(rf"(?<![\w-]){p.name}\b", message))]
    if not found:
        return message
    start, p = min(found, key=lambda f: f[0])
    return message[:start] + p.option + message[start + len(p.name) :]
