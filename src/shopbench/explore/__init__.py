"""`shopbench explore` (issue 22): find the fault plan that breaks a shop, not just check one.

  trial.py      one trial: a consistency run with one fault plan, judged by the ledger
  schedule.py   random fault plans and the smaller plans a failing one shrinks to
  search.py     random schedules, then shrink; budgets; what an exploration found
  hit.py        the companion that hits request N of a link (the proxy's request positions)
  requests.py   request by request: the recording, the space of positions x modes, pairs
  output.py     summary.json, failure plans, the reproducing commands, exit codes
  page.py       summary.html (templates/explore.html.j2, in the run report's style)
"""
