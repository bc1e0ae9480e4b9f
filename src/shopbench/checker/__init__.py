"""Checkers: pure functions from a history and a final state to a verdict. No I/O here.

`ledger.check` finds lost money and stock, `seed_metrics` reproduces seed 000's four numbers,
`verdict.assemble` builds `verdict.json`; `slo` and `recovery` add their own sections.
"""
