"""Reads pytest's JUnit XML report and prints one JSON object: the counts and, for every test
that did not pass, its id, outcome and message. The Rust harness judges the run from this."""

import json
import sys
import xml.etree.ElementTree as ET


def main(path: str) -> None:
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    others = []
    for case in cases:
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                message = (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped":
                outcome = "skipped"
                message = child.get("message") or ""
        counts[outcome] += 1
        if outcome != "passed":
            others.append({"id": test_id, "outcome": outcome, "message": message.strip()[:4000]})
    print(json.dumps({"counts": counts, "others": others}))


if __name__ == "__main__":
    main(sys.argv[1])
