#!/usr/bin/env python3
"""IMAP login load, independent of the Node client (bench/lib/dovecot.ts).

Python 3 standard library only (imaplib, threads): the cross-check for the
Dovecot benchmark, so that a client artefact (event loop, timers, the Node
process competing for the same cores) cannot pass for a difference between
passdbs. Same work per login as the Node client: connect, LOGIN, LOGOUT.

Input (stdin, JSON): {"port": 1143, "concurrency": 8,
  "jobs": [{"user": ..., "password": ..., "source": "127.2.1.1"}, ...]}
  "source" is optional; absent means the kernel's choice (127.0.0.1).
Output (stdout, JSON): {"n", "seconds", "latencies_ms" (connect -> LOGIN
  answer of the logins that succeeded), "failures", "failure_samples",
  "cpu_seconds" (this client's own user+system CPU)}.
Passwords arrive on stdin, never in argv.
"""
import imaplib
import json
import os
import socket
import sys
import threading
import time


class SourceIMAP4(imaplib.IMAP4):
    """imaplib.IMAP4 that connects from a chosen loopback source address."""

    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout=None):
        src = (self._source, 0) if self._source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


def main():
    spec = json.load(sys.stdin)
    port = int(spec["port"])
    jobs = spec["jobs"]
    concurrency = int(spec.get("concurrency", 8))
    timeout = float(spec.get("timeout", 15))
    lock = threading.Lock()
    state = {"next": 0}
    latencies = []
    failures = []

    def worker():
        while True:
            with lock:
                i = state["next"]
                if i >= len(jobs):
                    return
                state["next"] = i + 1
            job = jobs[i]
            t0 = time.perf_counter()
            try:
                conn = SourceIMAP4("127.0.0.1", port, job.get("source"), timeout)
                try:
                    typ, _ = conn.login(job["user"], job["password"])
                    ms = (time.perf_counter() - t0) * 1000
                    conn.logout()
                finally:
                    try:
                        conn.shutdown()
                    except OSError:
                        pass
                with lock:
                    latencies.append(ms) if typ == "OK" else failures.append(f"{job['user']}: {typ}")
            except Exception as e:  # a refusal raises imaplib.IMAP4.error
                with lock:
                    failures.append(f"{job['user']}: {type(e).__name__}: {e}")

    cpu0 = os.times()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    json.dump(
        {
            "n": len(jobs),
            "seconds": seconds,
            "latencies_ms": latencies,
            "failures": len(failures),
            "failure_samples": failures[:3],
            "cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
