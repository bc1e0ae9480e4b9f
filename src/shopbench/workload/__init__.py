"""Workloads: what the simulated clients do, as plain functions over a driver.

The same functions run inside Locust users and in a gevent burst; nothing here knows which.
"""
