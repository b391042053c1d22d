"""The plan is the contract between the core and the worker: every operation and fact name it
allows is one the worker runs, and the other way round (plan.py cannot import the worker's table:
the core stays free of PyInfra).

The worker patches the standard library with gevent when it is imported, so its tables are
read in a process of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import get_args

from clockwork.plan import FactName, OperationName

READ_TABLES = (
    "import json; from clockwork.runners import worker; "
    "print(json.dumps({'operations': sorted(worker.OPERATIONS), 'facts': sorted(worker.FACTS)}))"
)


def test_the_plans_names_are_the_workers() -> None:
    proc = subprocess.run([sys.executable, "-c", READ_TABLES], capture_output=True, text=True, timeout=60, check=True)
    tables = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(get_args(OperationName)) == tables["operations"]
    assert sorted(get_args(FactName)) == tables["facts"]
