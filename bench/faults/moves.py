"""Fault: 50 concurrent moves of one deal against the production server on PostgreSQL.

    python -m bench.faults.moves [--database-url URL]   (default: keel_bench_faults)

Fifty threads post the same move of the same deal (the same expected version) through the
API at once. Exactly one may succeed (200); every other must be refused with a clear 409
naming the version; the deal's history must have gained exactly one stage change, and the
deal's version exactly one step.
"""

import argparse
import threading
from collections import Counter
from collections.abc import Sequence

import requests

from bench.faults._common import Checks, api, deal_state, movable_deal, seeded, token_for
from bench.load import production_server

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/keel_bench_faults"
MOVERS = 50
OWNER = "marco.rossi"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults.moves")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    args, _ = parser.parse_known_args(argv)
    checks = Checks(f"{MOVERS} concurrent moves of one deal")
    print(f"{checks.fault} (production server, {seeded(args.database_url)}):", flush=True)
    token = token_for(OWNER)
    pk, to_stage, version, changes = movable_deal(OWNER)
    from django.db import connections

    connections.close_all()
    with production_server(args.database_url, workers=5) as server:
        start = threading.Barrier(MOVERS)
        answers: list[tuple[int, str]] = []
        lock = threading.Lock()

        def move() -> None:
            session = api(token)
            start.wait()
            try:
                response = session.post(
                    f"{server.url}/api/v1/deals/{pk}/move",
                    json={"to_stage": to_stage, "version": version},
                    timeout=60,
                )
                answer = (response.status_code, response.text)
            except requests.RequestException as error:
                answer = (0, str(error))
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=move) for _ in range(MOVERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    statuses = Counter(status for status, _ in answers)
    print(f"  answers: {dict(sorted(statuses.items()))}")
    conflicts = [text for status, text in answers if status == 409]
    checks.check(statuses[200] == 1, f"exactly one move succeeded ({statuses[200]})")
    checks.check(statuses[409] == MOVERS - 1, f"the other {MOVERS - 1} got 409 ({statuses[409]})")
    checks.check(
        all("Nothing was saved" in text and f"version {version}" in text for text in conflicts),
        "each 409 says nothing was saved and names the version it was based on",
    )
    if conflicts:
        print(f"    e.g. {conflicts[0][:220]}")
    after_version, after_stage, after_changes = deal_state(pk)
    checks.check(
        after_changes == changes + 1,
        f"the history has one new stage change (+{after_changes - changes})",
    )
    checks.check(
        (after_version, after_stage) == (version + 1, to_stage),
        f"the deal is at {to_stage!r}, version {version} + 1 ({after_stage!r}, {after_version})",
    )
    checks.finish()


if __name__ == "__main__":
    main()
