"""Puts the source checkout on `sys.path`, for the dev servers in `localdev/`.

The benchmarks run as `python bench/bench_x.py`, which puts only `bench/` on the path, and
`localdev` is deliberately not installed with syncbot. Imported for that side effect alone,
before any `localdev` import (import sorting keeps it above first-party imports).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
