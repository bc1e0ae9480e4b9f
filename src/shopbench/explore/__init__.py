"""`shopbench explore` (issue 22): find the fault plan that breaks a shop, not just check one.

  trial.py      one trial: a consistency run with one fault plan, judged by the ledger
  schedule.py   random fault plans and the smaller plans a failing one shrinks to
  search.py     random schedules, then shrink; budgets
  output.py     summary.json, failure plans, exit codes
"""
