"""`make mutate`: mutation testing with mutmut over the paths given, killed by the tests given.

mutmut reads its settings from the `pyproject.toml` of the directory it runs in and writes its
mutants beside it, so each run gets a scratch copy of the tree (`--dir`, default `.mutate/`) with
the settings for these paths appended: the working tree is never touched, and the paths are
arguments, not a config file to edit. It prints the score per file and every surviving mutant;
docs/mutation.md says why each one left is equivalent.

    python tools/mutate.py --paths src/shopbench/checker/ledger/ src/shopbench/checker/verdict.py \
        --tests tests/checker
    python tools/mutate.py --again ...   # after new tests: retest only what survived
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pattern(path: str) -> str:
    """A file as given, a folder as every file under it (mutmut's `only_mutate` globs)."""
    return path if path.endswith(".py") else path.rstrip("/") + "/*"


def prepare(scratch: Path, paths: list[str], tests: list[str], pytest_args: list[str]) -> None:
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "src", scratch / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=ignore)
    settings = {
        "source_paths": ["src"],
        "only_mutate": [_pattern(p) for p in paths],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": pytest_args,
    }
    toml = (ROOT / "pyproject.toml").read_text()
    toml += "\n[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    (scratch / "pyproject.toml").write_text(toml)


def results(scratch: Path, mutmut: str) -> dict[str, str]:
    """mutant name -> status ("killed", "survived", "no tests", "timeout", ...)."""
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=scratch, capture_output=True, text=True).stdout
    status = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+):\s*(.+)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", nargs="+", required=True, help="files or folders to mutate (under src/)")
    parser.add_argument("--tests", nargs="+", required=True, help="the tests that must kill the mutants")
    parser.add_argument("--pytest-args", default="-m 'not slow' -p no:cacheprovider -x -q",
                        help="extra pytest arguments for every run")
    parser.add_argument("--dir", default=str(ROOT / ".mutate"), help="scratch directory")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--again", action="store_true",
                        help="keep the last run: refresh src/ and tests/ and retest only the mutants not killed")
    args = parser.parse_args(argv)
    scratch = Path(args.dir)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    names: list[str] = []
    if args.again and (scratch / "mutants").is_dir():
        for part in ("src", "tests"):  # copy2 keeps mtimes: mutmut regenerates the mutants of changed files
            shutil.copytree(ROOT / part, scratch / part, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        names = sorted(n for n, s in results(scratch, mutmut).items() if s != "killed")
    else:
        prepare(scratch, args.paths, args.tests, shlex.split(args.pytest_args))
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut puts mutants/src first itself
    run = subprocess.run([mutmut, "run", "--max-children", str(args.jobs), *names], cwd=scratch, env=env)
    took = time.monotonic() - started
    status = results(scratch, mutmut)
    by_file: dict[str, Counter] = {}
    for name, state in status.items():
        module = name.split(".x_")[0].split(".xǁ")[0]
        by_file.setdefault(module, Counter())[state] += 1
    print(f"\nmutation run: {len(status)} mutants in {took:.0f} s (mutmut exit {run.returncode})")
    total = Counter()
    for module, counts in sorted(by_file.items()):
        total.update(counts)
        n = sum(counts.values())
        print(f"  {module}: {counts['killed']}/{n} killed ({100 * counts['killed'] / n:.1f} %)"
              + "".join(f", {c} {s}" for s, c in sorted(counts.items()) if s != "killed"))
    n = sum(total.values())
    if n:
        print(f"  all: {total['killed']}/{n} killed ({100 * total['killed'] / n:.1f} %)")
    survivors = sorted(name for name, state in status.items() if state != "killed")
    for name in survivors:
        print(f"  {status[name]}: {name}   (cd {scratch} && mutmut show {name})")
    return 0 if run.returncode == 0 else run.returncode


if __name__ == "__main__":
    sys.exit(main())
