"""``python -m cloudfolio``: the same as the ``cloudfolio`` console script."""

import sys

from cloudfolio.cli import main

sys.exit(main())
