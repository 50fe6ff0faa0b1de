"""Regenerate the committed demo freeze: ``python -m alliance_report.simulation data/demo-freeze``
(replaces a simulated freeze only)."""

import sys

from alliance_report.simulation import simulate_freeze

target = sys.argv[1] if len(sys.argv) > 1 else "data/demo-freeze"
print(simulate_freeze(target, force=True))
