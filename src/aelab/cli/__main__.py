"""``python -m aelab.cli``: the ``aelab`` command."""

import sys

from . import main

sys.exit(main())
