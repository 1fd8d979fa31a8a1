"""``aelab pack``: a collection into WebDataset shards, the format for collections spread over many
files and machines."""

from __future__ import annotations

from ..params import SAMPLES_PER_SHARD
from .common import command, limit_args, whole


def add_commands(sub) -> None:
    p = command(
        sub,
        "pack",
        "Pack an image folder or a .npy file into WebDataset shards (.tar files) for streamed training.",
        "  aelab pack --data pictures/ --out pictures-shards\n"
        "  aelab pack --data big.npy --out big-shards --samples-per-shard 50000\n"
        "  aelab train --data pictures-shards --out pictures-ae   # shards train streamed\n",
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="SPEC",
        help="a folder of images (one sub-folder per label; each file is stored as it is) or a .npy file (one sample "
        "a row)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the shards (shard-000000.tar, ...)")
    p.add_argument(
        "--samples-per-shard", type=whole(1), default=SAMPLES_PER_SHARD, metavar="N", help="samples in each shard"
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    limit_args(p, "file_bytes", "image_pixels", "follow_links")
    p.set_defaults(func=cmd_pack)


def cmd_pack(args) -> None:
    from ..jobs.data import PackRequest, pack

    rows, shards = pack(PackRequest(args.data, args.out, args.samples_per_shard, args.overwrite))
    labels = f", {len(set(rows.labels))} labels" if rows.labels else ""
    print(f"{rows.describe()}{labels} in {len(shards)} shard{'s' if len(shards) != 1 else ''}: {args.out}")
