"""``python -m labctl.lab FD [STATION_FILE]``: the lab process (see labctl.lab.server)."""

import sys

from labctl.lab.server import main

sys.exit(main(sys.argv))
