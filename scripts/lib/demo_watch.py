#!/usr/bin/env python3
"""scripts/demo's observer: follows one run on the public event stream and,
afterwards, what the notifier delivered to the recorder (recorder.py).

  demo_watch.py run --events FILE --run ID --until finished|rolledback
                    [--deployer-log FILE] [--timeout S] --summary OUT
      Follows FILE (the JSON lines of `conveyor events tail --follow --json`)
      and prints one line per stage as it completes: seconds since the push,
      the stage, its wall time (since the previous stage ended), the facts.
      Stops at pipelinerun.finished (`finished`), or once the rollback that
      a failed verification requested is done as well (`rolledback`).
      Writes OUT (JSON): outcome, per-stage facts and times, the time spent
      inside test, build, deploy and verify work, the run's wall time.
      Exit 0 when the run reached what --until asks for, 1 otherwise.

  demo_watch.py notified --recorder FILE --sha SHA --slack WORD[,WORD]
                         --status STATE[,STATE] [--timeout S] [--since T]
      Waits until the recorder holds, for commit SHA, a Slack message whose
      text contains each WORD and a GitHub commit status of each STATE;
      prints them. Exit 0 when all arrived, 1 otherwise.
"""
import argparse
import datetime as dt
import json
import sys
import time


def ms_of(iso):
    """Epoch milliseconds of an RFC 3339 time ("2026-11-29T22:08:50.287Z")."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000.0


def short_type(t):
    for prefix in ("dev.cdevents.", "dev.conveyor."):
        if t.startswith(prefix):
            t = t[len(prefix):]
    return ".".join(t.split(".")[:-3])


def custom(ev):
    return ev.get("data", {}).get("customData") or {}


def content(ev):
    return ev.get("data", {}).get("subject", {}).get("content") or {}


def say(text):
    print("[demo] " + text, flush=True)


class Run:
    def __init__(self, run_id, until, deployer_log):
        self.run_id, self.until, self.deployer_log = run_id, until, deployer_log
        self.seen = set()
        self.events = []
        self.t0 = None            # pipelinerun.queued
        self.last_end = None      # time the previous stage ended
        self.starts = {}          # stage start times from start events
        self.stages = {}          # stage -> {"at_ms", "wall_ms", "facts"}
        self.work_ms = {}         # time inside test, build, deploy, verify work
        self.outcome = None
        self.finished_ms = None
        self.rollback = None      # "done" | "failed" | "not-requested"
        self.incident_ms = None

    def line(self, stage, at, facts, start=None):
        begin = start if start is not None else (self.last_end if self.last_end is not None else self.t0)
        wall = at - begin if begin is not None else 0.0
        self.last_end = at
        self.stages[stage] = {"at_ms": at - self.t0, "wall_ms": wall, "facts": facts}
        say("%7.1fs  %-10s %6.1fs  %s" % ((at - self.t0) / 1000, stage, wall / 1000, facts))

    def deployer_span(self, begin_msg, end_msgs):
        """(start, end) epoch ms of this run's deploy/rollback in the deployer's JSON log, else None."""
        start = end = None
        try:
            with open(self.deployer_log, encoding="utf-8") as f:
                for raw in f:
                    try:
                        rec = json.loads(raw)
                    except json.JSONDecodeError:
                        continue
                    if rec.get("run_id") != self.run_id or "ts" not in rec:
                        continue
                    if rec.get("msg") == begin_msg and start is None:
                        start = ms_of(rec["ts"])
                    elif rec.get("msg") in end_msgs and start is not None:
                        end = ms_of(rec["ts"])
        except OSError:
            return None
        return (start, end) if start is not None and end is not None else None

    def on_event(self, ev):
        t = short_type(ev.get("type", ""))
        at = ms_of(ev["time"])
        c, cd = content(ev), custom(ev)
        if t == "pipelinerun.queued":
            self.t0 = at
            self.last_end = at
            say("%7.1fs  %-10s %6s   run %s" % (0.0, "queued", "", self.run_id))
            return
        if self.t0 is None:
            self.t0 = at
        if t == "testsuiterun.started":
            self.starts["test"] = at
        elif t == "testsuiterun.finished":
            steps_ms = sum(s.get("durationMs", 0) for s in cd.get("steps", []))
            self.work_ms["test"] = steps_ms
            passed = c.get("outcome") == "success"
            self.line("tests", at, "%s: %s tests, %s failures, %s errors, %s skipped (steps %.1fs)" % (
                "passed" if passed else "FAILED", cd.get("tests", "?"), cd.get("failures", "?"),
                cd.get("errors", "?"), cd.get("skipped", "?"), steps_ms / 1000))
        elif t == "version.released":
            self.line("version", at, "tagged %s (%s release, previous %s)" % (
                c.get("tag"), c.get("releaseType"), c.get("previous") or "none"))
        elif t == "build.started":
            self.starts["build"] = at
        elif t == "build.finished":
            if "build" in self.starts:
                self.work_ms["build"] = self.work_ms.get("build", 0) + at - self.starts["build"]
            self.build = cd
        elif t == "artifact.published":
            plats = ", ".join(sorted(cd.get("platforms", {})))
            self.line("image", at, "pushed %s@%s [%s]" % (cd.get("repository"), cd.get("digest"), plats))
        elif t == "values.committed":
            changes = "; ".join("%s %s -> %s" % (k, json.dumps(v.get("previous")), json.dumps(v.get("value")))
                                for k, v in c.get("changes", {}).items())
            self.line("values", at, "committed %s %s (%s)" % (c.get("commit", "")[:12], c.get("file"), changes))
        elif t in ("service.deployed", "service.upgraded"):
            span = self.deployer_span("deploying", {"deployed", "upgraded"})
            begin = self.last_end
            if span:
                self.work_ms["deploy"] = span[1] - span[0]
            else:
                self.work_ms["deploy"] = at - begin
            self.line("deployed", at, "%s to %s: %s" % (
                t.split(".")[1], c.get("environment", {}).get("id", "?"),
                c.get("artifactId", "")))
        elif t == "taskrun.started" and ev.get("source", "").endswith("health-verifier"):
            self.starts["verify"] = at
        elif t == "taskrun.finished" and ev.get("source", "").endswith("health-verifier"):
            if "verify" in self.starts:
                self.work_ms["verify"] = at - self.starts["verify"]
            checks = []
            for ch in cd.get("checks", []):
                recent = (ch.get("recent") or [{}])[-1]
                what = "%s %s" % (ch.get("kind"), ch.get("url"))
                if ch.get("json_pointer"):
                    what += " %s == %s" % (ch["json_pointer"], json.dumps(ch.get("expect")))
                checks.append("%s: %s (%s probes, last: HTTP %s%s)" % (
                    what, ch.get("result"), ch.get("probes"), recent.get("status"),
                    ", %s" % json.dumps(recent["value"]) if "value" in recent else ""))
            ok = c.get("outcome") == "success"
            self.line("verified" if ok else "verify", at, ("passed: " if ok else "FAILED: ") + "; ".join(checks))
        elif t == "incident.detected":
            self.incident_ms = at
            rb = cd.get("rollback", {})
            say("%7.1fs  %-10s %6s   %s; rollback requested: %s (verdict -> request %.1f ms)" % (
                (at - self.t0) / 1000, "incident", "", c.get("description", "verification failed"),
                json.dumps(rb.get("requested")), rb.get("verdict_to_rollback_ms", float("nan"))))
        elif t == "pipelinerun.finished":
            self.outcome = c.get("outcome")
            self.finished_ms = at
            errors = c.get("errors")
            say("%7.1fs  %-10s %6s   %s%s" % ((at - self.t0) / 1000, "finished", "", self.outcome,
                                              ": " + errors if errors else ""))
        elif t == "service.rolledback":
            span = self.deployer_span("rolling back", {"rolled back"})
            begin = self.incident_ms if self.incident_ms is not None else self.last_end
            self.work_ms["rollback"] = span[1] - span[0] if span else at - begin
            self.rollback = "done"
            self.line("rollback", at, "rolled back %s to %s" % (
                c.get("environment", {}).get("id", "?"), c.get("artifactId", "")), start=begin)

    def done(self):
        if self.outcome is None:
            return False
        if self.until == "finished":
            return True
        if self.outcome == "success":
            return True  # nothing to roll back: the caller sees the outcome
        return self.rollback is not None

    def summary(self):
        run_ms = (self.finished_ms - self.t0) if self.finished_ms and self.t0 else None
        inside = sum(self.work_ms.get(k, 0) for k in ("test", "build", "deploy", "verify"))
        return {"run_id": self.run_id, "outcome": self.outcome, "rollback": self.rollback,
                "stages": self.stages, "work_ms": self.work_ms, "run_ms": run_ms,
                "overhead_ms": run_ms - inside if run_ms is not None else None,
                "types": [short_type(e.get("type", "")) for e in self.events]}


def cmd_run(args):
    run = Run(args.run, args.until, args.deployer_log)
    deadline = time.time() + args.timeout
    pos = 0
    buf = ""
    while time.time() < deadline and not run.done():
        with open(args.events, encoding="utf-8") as f:
            f.seek(pos)
            chunk = f.read()
            pos = f.tell()
        buf += chunk
        *lines, buf = buf.split("\n")
        for raw in lines:
            try:
                ev = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if ev.get("data", {}).get("context", {}).get("chainId") != args.run or ev.get("id") in run.seen:
                continue
            run.seen.add(ev.get("id"))
            run.events.append(ev)
            run.on_event(ev)
        if not run.done():
            time.sleep(0.1)
    with open(args.summary, "w", encoding="utf-8") as out:
        json.dump(run.summary(), out, indent=2)
    if not run.done():
        say("run %s: no %s within %ss (seen: %s)" % (
            args.run, "rollback" if run.outcome else "pipelinerun.finished", args.timeout,
            " ".join(short_type(e.get("type", "")) for e in run.events) or "nothing"))
        return 1
    return 0


def cmd_notified(args):
    words = [w for w in args.slack.split(",") if w]
    states = [s for s in args.status.split(",") if s]
    deadline = time.time() + args.timeout
    slack_hits, status_hits = {}, {}
    while time.time() < deadline:
        with open(args.recorder, encoding="utf-8") as f:
            entries = [json.loads(l) for l in f if l.strip()]
        for e in entries:
            if e.get("time", 0) < args.since:
                continue
            body = e.get("body")
            if e.get("kind") == "github-status" and e.get("status") == 201 and e["path"].endswith("/" + args.sha):
                status_hits.setdefault(body.get("state"), e)
            if e.get("kind") == "slack" and e.get("status") == 200 and args.sha[:7] in json.dumps(body):
                text = body.get("text", "")
                for w in words:
                    if w.lower() in text.lower():
                        slack_hits.setdefault(w, e)
        if all(w in slack_hits for w in words) and all(s in status_hits for s in states):
            for w in words:
                say("  slack   %-10s %s" % (w, json.dumps(slack_hits[w]["body"].get("text"))))
            for s in states:
                b = status_hits[s]["body"]
                say("  github  %-10s POST %s {state: %s, context: %s, description: %s}" % (
                    s, status_hits[s]["path"], b.get("state"), json.dumps(b.get("context")),
                    json.dumps(b.get("description"))))
            return 0
        time.sleep(0.2)
    say("missing notifications for %s: slack %s, github status %s (recorded: slack %s, status %s)" % (
        args.sha[:12], [w for w in words if w not in slack_hits], [s for s in states if s not in status_hits],
        sorted(slack_hits), sorted(status_hits)))
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--events", required=True)
    r.add_argument("--run", required=True)
    r.add_argument("--until", choices=["finished", "rolledback"], default="finished")
    r.add_argument("--deployer-log", default="")
    r.add_argument("--timeout", type=float, default=300)
    r.add_argument("--summary", required=True)
    n = sub.add_parser("notified")
    n.add_argument("--recorder", required=True)
    n.add_argument("--sha", required=True)
    n.add_argument("--slack", default="")
    n.add_argument("--status", default="")
    n.add_argument("--since", type=float, default=0)
    n.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_notified(args)


if __name__ == "__main__":
    sys.exit(main())
