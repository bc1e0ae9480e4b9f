"""shopbench: load-test a transactional shop, inject faults under load, and check it lost nothing."""

__version__ = "0.1.0"
