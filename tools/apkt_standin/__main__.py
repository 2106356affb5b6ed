from __future__ import annotations

import sys

from tools.apkt_standin.server import main

sys.exit(main())
