"""What the command groups share: the help layout, the data options, and the options made from the
parameter table of :mod:`aelab.params`. Nothing here imports torch: ``aelab --help`` answers at once."""

from __future__ import annotations

import argparse

from ..errors import ParameterError
from ..params import TABLE


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
    """A sub-command parser with its help and examples."""
    return sub.add_parser(name, help=help, description=help, formatter_class=Formatter, epilog="examples:\n" + examples)


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
    """The bits of ``--binary BITS``, or a one-line error: FAISS stores binary codes a byte at a time."""
    if bits < 8 or bits % 8:
        raise ParameterError(f"--binary takes a number of bits that is a multiple of 8 (8, 16, 32...), not {bits}")
    return bits


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
    g.add_argument("--test-size", type=float, default=0.2, help="hold-out share for data without its own split")
    g.add_argument("--split-seed", type=int, default=0, help="seed of that hold-out")
    g.add_argument("--label-column", metavar="NAME", help="label column of a CSV table (name or index)")
    g.add_argument("--image-size", metavar="HxW", help="resize every image of an image folder to this size")
    limit_args(g, "image_pixels", "file_bytes")


def limit_args(p: argparse.ArgumentParser, *names: str) -> None:
    """Options that raise (or lower) the limits of :mod:`aelab.limits` for this command."""
    from ..limits import OPTIONS, Limits

    helps = {
        "image_pixels": "refuse images of more pixels than this (decompression bombs)",
        "file_bytes": "refuse a data file whose contents would take more bytes than this in memory",
        "images": "refuse a request for more images than this (a grid, samples)",
    }
    for name in names:
        p.add_argument(
            OPTIONS[name], dest=f"max_{name}", type=int, metavar="N", default=getattr(Limits(), name), help=helps[name]
        )


def load_data(args):
    """The data set the data options name."""
    from .. import datasets

    return datasets.load(
        args.data,
        args.data_dir,
        test_size=args.test_size,
        seed=args.split_seed,
        label_column=args.label_column,
        image_size=datasets.parse_image_size(args.image_size),
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
    """The estimator arguments of the table parameters ``names`` given on the command line."""
    values = {name: getattr(args, name) for name in names}
    for name, value in values.items():
        try:
            TABLE[name].check(value)
        except ParameterError as exc:  # name the option the user typed, not the argument
            raise ParameterError(str(exc).replace(name, TABLE[name].option, 1)) from None
    return values
