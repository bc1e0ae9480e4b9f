"""The extension points have one public import place, and importing it does not patch the process."""

import subprocess
import sys


def test_every_public_name_resolves_and_import_stays_light():
    code = ("import sys, shopbench\n"
            "assert 'locust' not in sys.modules and 'gevent' not in sys.modules, 'import shopbench pulled in Locust'\n"
            "missing = [n for n in shopbench.__all__ if getattr(shopbench, n, None) is None]\n"
            "assert not missing, missing\n"
            "print(len(shopbench.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 15


def test_unknown_name_is_an_attribute_error():
    import shopbench

    try:
        shopbench.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("shopbench.NoSuchThing should not exist")
