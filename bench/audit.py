"""`python -m bench.audit` (`make audit`): the installed dependencies against known
vulnerabilities, with pip-audit.

The exact versions installed (`pip freeze`, Keel itself left out) are checked against the
vulnerability database, strictly: a package that cannot be checked fails the run like a
vulnerable one. When the database cannot be reached at all (an offline build machine),
the run says SKIPPED and succeeds: that is the only failure it lets pass.

    python -m bench.audit               # PyPI's advisories (pip-audit's default)
    python -m bench.audit --service osv # the OSV database
"""

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

# The installed pip's record, asked for the way pip-audit asks for every package: PyPI's
# JSON for one release (a mirror may serve a project's JSON but not a release's) or OSV.
_PIP = version("pip")
PROBES = {
    "pypi": (f"https://pypi.org/pypi/pip/{_PIP}/json", None),
    "osv": (
        "https://api.osv.dev/v1/query",
        json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": _PIP}).encode(),
    ),
}
TIMEOUT = 15


def database_problem(service: str) -> str:
    """Why the service's database cannot be used from here, or "" when it can."""
    url, body = PROBES[service]
    request = urllib.request.Request(  # noqa: S310 - a fixed https URL
        url, data=body, headers={"Content-Type": "application/json", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        return f"it answers HTTP {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return f"no answer ({getattr(error, 'reason', error)})"
    except ValueError:
        return "it answers something other than JSON"
    # PyPI's release record lists its "vulnerabilities"; OSV's answer is an object.
    if not isinstance(answer, dict) or (service == "pypi" and "vulnerabilities" not in answer):
        return "it answers something other than a release's vulnerability record"
    return ""


def frozen_requirements() -> str:
    """The installed distributions pinned to their versions, Keel's own checkout left out."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    )
    return frozen.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--service", choices=sorted(PROBES), default="pypi")
    options = parser.parse_args(argv)
    problem = database_problem(options.service)
    if problem:
        print(
            f"SKIPPED: the vulnerability database at {PROBES[options.service][0]} cannot be "
            f"reached from this machine: {problem}. Run `make audit` where it can be."
        )
        return 0
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text(frozen_requirements())
        audit = subprocess.run(  # noqa: S603 - this Python's pip-audit, fixed arguments
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--requirement",
                str(requirements),
                "--no-deps",  # every installed package is listed, pinned
                "--disable-pip",
                "--strict",
                "--progress-spinner",
                "off",
                "--vulnerability-service",
                options.service,
            ],
            check=False,
        )
    return audit.returncode


if __name__ == "__main__":
    sys.exit(main())
