#!/usr/bin/env bash
# Scan infra/ with checkov and fail on any failed check OR any file checkov could not parse
# (checkov itself exits 0 when a .bicep file does not parse).
#
# Usage: infra/checkov.sh [path-to-checkov]   (default: .venv-checkov/bin/checkov, from the repo root)
# Install checkov apart from the app's venv, it pins many packages:
#   python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

checkov="${1:-.venv-checkov/bin/checkov}"
if [[ ! -x "$checkov" ]] && ! command -v "$checkov" >/dev/null 2>&1; then
  echo "checkov.sh: checkov not found at '$checkov'" >&2
  exit 2
fi

report="$(mktemp)"
trap 'rm -f "$report"' EXIT

# checkov exits 1 when a check fails; the verdict below is ours, so do not stop here.
set +e
"$checkov" -d infra --framework bicep --skip-download -o json >"$report"
checkov_rc=$?
set -e
if [[ ! -s "$report" ]]; then
  echo "checkov.sh: checkov wrote no report (exit code $checkov_rc)" >&2
  exit 2
fi

python3 - "$report" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as handle:
    data = json.load(handle)

# One framework gives a dict; several (or some versions) give a list of dicts.
reports = data if isinstance(data, list) else [data]
passed = failed = skipped = parsing_errors = 0
for report in reports:
    summary = report.get("summary", {})
    passed += summary.get("passed", 0)
    failed += summary.get("failed", 0)
    skipped += summary.get("skipped", 0)
    parsing_errors += summary.get("parsing_errors", 0)
    for check in report.get("results", {}).get("failed_checks", []):
        print(
            f"FAILED {check['check_id']} {check.get('resource', '?')} "
            f"({check.get('file_path', '?')}:{(check.get('file_line_range') or ['?'])[0]}) "
            f"{check.get('check_name', '')}"
        )
    for path in report.get("results", {}).get("parsing_errors", []):
        print(f"PARSING ERROR {path}")

print(
    f"checkov: passed={passed} failed={failed} skipped={skipped} "
    f"parsing_errors={parsing_errors}"
)
sys.exit(1 if failed or parsing_errors else 0)
PY
