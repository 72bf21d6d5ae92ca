#!/usr/bin/env python3
"""Converts `go test -json` (stdin) to JUnit XML (stdout): one <testsuite>
per package, one <testcase> per test with its time and, when it failed, its
output as the <failure> text."""
import json
import sys
import xml.etree.ElementTree as ET

suites = {}
for line in sys.stdin:
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
    if not test:
        continue
    case = suites.setdefault(pkg, {}).setdefault(test, {"output": [], "result": None, "time": 0.0})
    if action == "output":
        case["output"].append(ev.get("Output", ""))
    elif action in ("pass", "fail", "skip"):
        case["result"], case["time"] = action, ev.get("Elapsed", 0.0)

root = ET.Element("testsuites")
for pkg, cases in suites.items():
    counts = {r: sum(c["result"] == r for c in cases.values()) for r in ("fail", "skip")}
    suite = ET.SubElement(root, "testsuite", name=pkg, tests=str(len(cases)), failures=str(counts["fail"]),
                          errors="0", skipped=str(counts["skip"]))
    for name, c in cases.items():
        tc = ET.SubElement(suite, "testcase", classname=pkg, name=name, time=f"{c['time']:.3f}")
        if c["result"] == "fail":
            ET.SubElement(tc, "failure", message="failed").text = "".join(c["output"])
        elif c["result"] == "skip":
            ET.SubElement(tc, "skipped")
        elif c["result"] is None:  # the package crashed or timed out mid-test
            ET.SubElement(tc, "error", message="no result").text = "".join(c["output"])
ET.ElementTree(root).write(sys.stdout, encoding="unicode", xml_declaration=True)
sys.stdout.write("\n")
