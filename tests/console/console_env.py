"""Child process of the browser tests: the project deployed on a fresh local endpoint, kept up until its
standard input closes.

    python tests/console/console_env.py

prints one line ``CONSOLE {"endpoint", "console", "data_bucket", "artifact_bucket"}`` (URLs and bucket
names) once the four stacks are deployed, then serves until the test closes its stdin. moto's state and the
bridges are process-wide, so the endpoint never runs inside the pytest process (as tests/e2e/e2e_driver.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from localaws import demo  # noqa: E402
from localaws.console.app import url as console_url  # noqa: E402

READY = "CONSOLE "


def main() -> None:
    with demo.deployed_environment(out=sys.stderr) as env:
        facts = {
            "endpoint": env.ctx.endpoint_url,
            "console": console_url(env.ctx.endpoint_url),
            "data_bucket": demo.DATA_BUCKET,
            "artifact_bucket": demo.ARTIFACT_BUCKET,
        }
        print(READY + json.dumps(facts), flush=True)
        sys.stdin.read()  # until the test closes it (or dies: EOF too)


if __name__ == "__main__":
    main()
