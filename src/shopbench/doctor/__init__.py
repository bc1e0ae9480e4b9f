"""`shopbench doctor`: what a user's shop can run before they run it (issue 25).

needs.py     which endpoints each mix, scenario and check needs; `--without OP` for stress
probe.py     every endpoint tried once on entities it creates, answers checked and read back
gateway.py   how many connections the gateway holds before it closes or refuses them
advice.py    the findings as lines to read and the command lines to run
"""
