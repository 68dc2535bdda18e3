"""python -m anynet.cli: the anynet command."""

import sys

from anynet.cli import main

sys.exit(main())
