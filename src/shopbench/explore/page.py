"""summary.html: an exploration as a page, in the run report's style (report/templates/base.html.j2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopbench.explore.trial import TRIALS_LOG

HERE = Path(__file__).resolve().parent
PAGE = "summary.html"


def build_page(root: Path, summary: dict[str, Any]) -> Path:
    import jinja2
    from markupsafe import Markup

    from shopbench import __version__
    from shopbench.explore.output import faults_of
    from shopbench.report import html

    env = jinja2.Environment(loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(HERE / "templates"),
                                                         jinja2.FileSystemLoader(html.HERE / "templates")]),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["compact"] = html.compact_json
    trials = []
    log = root / TRIALS_LOG
    for line in log.read_text().splitlines() if log.exists() else []:
        t = json.loads(line)
        trials.append({"index": t["index"], "label": t["label"], "faults": "; ".join(faults_of(t["plan"])) or "—",
                       "result": t["result"], "unreached": t["extra"].get("reached") is False,
                       "anomalies": ", ".join(f"{k} {v}" for k, v in t["anomaly_types"].items()) or t["error"] or "",
                       "seconds": t["seconds"]})
    code = summary["exit_code"]
    links = sorted({link for counts in (summary["space"].get("requests") or {}).values() for link in counts})
    text = env.get_template("explore.html.j2").render(
        s=summary, root=str(root), trials=trials, links=links, shopbench_version=__version__,
        banner={1: "invalid", 0: "valid"}.get(code, "unknown"),
        headline={1: "FAILURE FOUND", 0: "NO FAILURE, ALL COVERED"}.get(code, "NOT COVERED"),
        uplot_js="", uplot_css="", figures_json=Markup("{}"))
    return html.write_atomically(root / PAGE, text)
