"""``python -m aelab`` (and ``torchrun ... -m aelab train ...``): the ``aelab`` command."""

import sys

from .cli import main

sys.exit(main())
