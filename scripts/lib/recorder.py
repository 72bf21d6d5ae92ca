#!/usr/bin/env python3
"""Local stand-in for GitHub's REST API and a Slack incoming webhook, for
scripts/demo. It answers like the real services for the parts conveyor uses
and appends every request it receives to a JSON-lines log, so the demo can
check what conveyor sent.

  POST /github/repos/{owner}/{repo}/statuses/{sha}   GitHub commit status
       (REST API "Create a commit status": JSON body with `state` one of
       error/failure/pending/success, optional target_url/description/
       context; token auth) -> 201 with the status, 422 on a bad body,
       401 without a token
  POST /slack/<anything>                             Slack incoming webhook
       (JSON body with `text` and/or `blocks`) -> 200 "ok", 400
       "invalid_payload" otherwise
  anything else                                      -> 404

Log line: {"time", "method", "path", "status", "kind" (github-status |
slack | unknown), "auth" (the Authorization scheme only, never the token),
"headers" (content-type, user-agent, accept, x-github-api-version), "body"
(parsed JSON, else the text)}.

Usage: recorder.py --log FILE --port-file FILE [--port N]   (port 0 = any free)
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS_PATH = re.compile(r"^/github/repos/([^/]+)/([^/]+)/statuses/([0-9a-fA-F]{7,64})$")
STATES = {"error", "failure", "pending", "success"}
MAX_BODY = 1 << 20


class Recorder(BaseHTTPRequestHandler):
    server_version = "conveyor-demo-recorder/1"
    log_file = None
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # the JSON log is the record; keep stderr quiet
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, kind, status, body):
        auth = self.headers.get("Authorization", "")
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "status": status,
            "kind": kind,
            "auth": auth.split(" ", 1)[0] if auth else "",
            "headers": {k: self.headers[k] for k in ("Content-Type", "User-Agent", "Accept", "X-GitHub-Api-Version")
                        if self.headers.get(k) is not None},
            "body": body,
        }
        with self.lock, open(self.log_file, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, sort_keys=True) + "\n")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
        text = raw.decode("utf-8", errors="replace")
        try:
            return json.loads(text) if text else None
        except json.JSONDecodeError:
            return text

    def do_POST(self):
        body = self.read_body()
        match = STATUS_PATH.match(self.path)
        if match:
            kind = "github-status"
            if not self.headers.get("Authorization", "").strip():
                status, reply = 401, {"message": "Requires authentication"}
            elif not isinstance(body, dict) or body.get("state") not in STATES:
                status, reply = 422, {"message": "Validation Failed: state must be one of " + ", ".join(sorted(STATES))}
            else:
                status = 201
                reply = {"id": int(time.time() * 1000), "state": body["state"], "sha": match.group(3),
                         "context": body.get("context", "default"), "description": body.get("description"),
                         "target_url": body.get("target_url")}
            self.record(kind, status, body)
            return self.answer(status, reply)
        if self.path.startswith("/slack/"):
            ok = isinstance(body, dict) and (isinstance(body.get("text"), str) or isinstance(body.get("blocks"), list))
            status = 200 if ok else 400
            self.record("slack", status, body)
            return self.answer(status, b"ok" if ok else b"invalid_payload", "text/plain")
        self.record("unknown", 404, body)
        return self.answer(404, {"message": "Not Found"})

    def do_GET(self):
        self.record("unknown", 404, None)
        self.answer(404, {"message": "Not Found"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    Recorder.log_file = args.log
    open(args.log, "a").close()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Recorder)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
