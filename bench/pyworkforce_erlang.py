"""Staffs the cases of `callcenter-bench erlang` with pyworkforce's ErlangC.

Reads a JSON list of cases from argv[1], writes a JSON object to argv[2]: per case the raw and
shrunk positions pyworkforce gives, and the time spent in its calls alone.
"""
import json
import sys
import time

from pyworkforce.queuing import ErlangC


def main() -> None:
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = []
    started = time.perf_counter()
    for case in cases:
        erlang = ErlangC(
            transactions=case["calls"],
            aht=case["handle_seconds"],
            asa=case["answer_seconds"],
            interval=case["interval_seconds"],
            shrinkage=case["shrinkage"],
        )
        answer = erlang.required_positions(
            service_level=case["service_level"], max_occupancy=case["max_occupancy"]
        )
        results.append([answer["raw_positions"], answer["positions"]])
    elapsed = time.perf_counter() - started
    with open(sys.argv[2], "w") as f:
        json.dump({"results": results, "seconds": elapsed}, f)


if __name__ == "__main__":
    main()
