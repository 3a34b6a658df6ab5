"""Cold start: importing the function app over importing the Functions library (issue item 1).

    .venv/bin/python -m benchmarks.cold_start [--runs 15]

The worker imports `function_app` before any function can run, in a fresh process, and it
cannot do with less than `azure.functions` (the bindings are declared with it). Each run
starts a new interpreter for `python -c "import function_app"` and one for
`python -c "import azure.functions"`, alternating, and times it from outside; the ratio is
median over median. Also printed: the modules the app's import adds, and whether any of the
heavy ones (SDKs, pydantic, httpx) slipped into it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from benchmarks._common import ROOT, header, verdict

COMMAND = ".venv/bin/python -m benchmarks.cold_start"
TARGET = 1.5
# Loaded on a function's first call, never at import (shared/edge/handlers.py, shared/bootstrap.py).
HEAVY = ("pydantic", "httpx", "msal", "azure.data.tables", "azure.storage.queue",
         "azure.identity", "azure.keyvault", "azure.core", "stamina", "shared.edge.handlers",
         "shared.bootstrap")


def timed_import(module: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)
    return time.perf_counter() - started


def modules_added() -> list[str]:
    probe = (
        "import sys, json; import azure.functions; before = set(sys.modules); "
        "import function_app; print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    output = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return list(json.loads(output))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    header("Cold start: import function_app over import azure.functions", COMMAND)
    # Untimed: compiles the app's bytecode (the library's came with its install) and brings
    # both into the page cache.
    timed_import("function_app")
    timed_import("azure.functions")
    app_times: list[float] = []
    library_times: list[float] = []
    for _ in range(args.runs):
        app_times.append(timed_import("function_app"))
        library_times.append(timed_import("azure.functions"))
    app, library = statistics.median(app_times), statistics.median(library_times)
    ratio = app / library
    added = modules_added()
    heavy = [m for m in added if m.startswith(HEAVY)]
    print(f"   python -c 'import function_app': {app * 1000:.0f} ms; "
          f"python -c 'import azure.functions': {library * 1000:.0f} ms (medians of {args.runs})")
    print(f"   modules the app's import adds: {len(added)} ({', '.join(added)}); "
          f"heavy ones among them: {heavy or 'none'}")
    print(f"cold start ratio: {ratio:.2f}   target <= {TARGET}: {verdict(ratio <= TARGET)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
