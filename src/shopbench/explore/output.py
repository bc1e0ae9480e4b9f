"""What an exploration leaves behind (issue 22.3): every trial under `trials/` with `trials.jsonl`
(trial.py writes those as it goes), and at the end

  summary.json         what was covered, every failure with its smallest plan, the command that
                       reproduces it, how often it does and the ledger's explanation; the exit code
  failure-N.json       the smallest plan of failure N, a kill_config.json as `--faults` reads it
  summary.html         the same as a page (page.py)

Exit codes: 1 a failure was found; 0 none, within a budget that covered everything it set out to
cover; 4 trials could not run, or the space was not covered.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from shopbench.errors import EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID
from shopbench.explore.schedule import describe
from shopbench.explore.search import Exploration
from shopbench.explore.trial import Shop, command

SUMMARY = "summary.json"


def exit_code(found: Exploration) -> int:
    if found.failures:
        return EXIT_INVALID
    return EXIT_VALID if found.covered else EXIT_UNKNOWN


def summarise(found: Exploration, root: Path, shop: Shop, seconds: float) -> dict[str, Any]:
    """summary.json (and the failure plans) in `root`; the summary as a dict."""
    failures = []
    for n, failure in enumerate(found.failures, 1):
        plan_path = root / f"failure-{n}.json"
        plan_path.write_text(json.dumps(failure.plan, indent=2) + "\n")
        failures.append({
            "plan_file": str(plan_path),
            "plan": failure.plan,
            "faults": faults_of(failure.plan),
            "load": vars(failure.load),
            "command": (command(plan_path, failure.load, shop) if "request_faults" not in failure.plan
                        else replay_command(failure.plan, failure.load, shop, failure.tries)),
            "reproduces": {"invalid": failure.hits, "runs": failure.tries},
            "found_by_trial": failure.found_by,
            "original_faults": faults_of(failure.original),
            "shrink_steps": failure.steps,
            "anomaly_types": failure.trial.anomaly_types,
            "explanation": failure.trial.explanation,
            "run_dir": failure.trial.run_dir,
            **failure.extra,
        })
    results: dict[str, int] = {}
    for trial in found.trials:
        results[trial.result] = results.get(trial.result, 0) + 1
    summary = {
        "mode": found.mode,
        "exit_code": exit_code(found),
        "covered": found.covered,
        "space": found.space,
        "trials": len(found.trials),
        "trial_results": results,
        "seconds": round(seconds, 1),
        "failures": failures,
        "notes": found.notes,
    }
    (root / SUMMARY).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    try:
        from shopbench.explore.page import build_page

        build_page(root, summary)
    except Exception as exc:  # noqa: BLE001 - the page is a view of summary.json, never its verdict
        summary["notes"].append(f"summary.html not written: {type(exc).__name__}: {exc}")
        (root / SUMMARY).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def faults_of(plan: dict[str, Any]) -> list[str]:
    """Each fault of a plan in words: a kill_config trigger, or a request fault LINK#N:MODE."""
    if "request_faults" in plan:
        return [str(f) for f in plan["request_faults"]]
    return [describe(t) for t in plan.get("kill_triggers") or []]


def replay_command(plan: dict[str, Any], load: Any, shop: Shop, runs: int) -> str:
    """`shopbench explore --mode requests --only …`: the request faults of `plan`, run `runs` times more."""
    args = ["shopbench", "explore", "--mode", "requests", "--workload", str(plan.get("workload") or "alone")]
    for fault in plan.get("request_faults") or []:
        args += ["--only", str(fault)]
    args += ["--items", str(load.items), "--stock", str(load.stock), "--users", str(load.users), "--credit",
             str(load.credit), "--seed", str(load.seed), "--confirm", str(runs), *shop.flags()]
    return shlex.join(args)


def summary_lines(summary: dict[str, Any], root: Path) -> list[str]:
    """The summary for a terminal, plain lines."""
    results = ", ".join(f"{k} {v}" for k, v in sorted(summary["trial_results"].items()))
    out = [f"explore ({summary['mode']}): {summary['trials']} trials in {summary['seconds']:g} s ({results})"]
    space = summary["space"]
    if summary["mode"] == "random":
        out.append(f"plans drawn: {space.get('plans_drawn', 0)}, judged: {space.get('plans_judged', 0)}")
    else:
        out.append(f"positions x modes: {space.get('reached', 0)} of {space.get('total', 0)} reached "
                   f"({space.get('unreachable', 0)} unreachable, skipped)")
    for n, failure in enumerate(summary["failures"], 1):
        rep = failure["reproduces"]
        out.append(f"FAILURE {n}: {len(failure['faults'])} fault(s): " + ("; ".join(failure["faults"]) or "none"))
        out.append(f"  reproduces in {rep['invalid']} of {rep['runs']} runs"
                   + (f" ({failure['stopped']})" if failure.get("stopped") else "") + f"; plan: {failure['plan_file']}")
        out.append(f"  command: {failure['command']}")
        for line in failure["explanation"][:3]:
            out.append(f"  ledger: {line}")
    out += [f"note: {n}" for n in summary["notes"]]
    verdict = {1: "a failure was found", 0: "no failure, everything covered",
               4: "no failure found, but not everything was covered"}[summary["exit_code"]]
    out.append(f"{verdict}; summary: {root / SUMMARY}")
    return out
