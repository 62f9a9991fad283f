"""``python -m recor`` runs the ``recor`` command."""

import sys

from recor.cli import main

sys.exit(main())
