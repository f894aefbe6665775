#!/usr/bin/env python3
"""Partner intake into a fresh `callcenter dev`: batches of 500 events (100 calls of five facts
each) posted to /v1/partner/call-events one after another, each batch timed, to see whether the
throughput holds as the history grows. Prints one JSON line with the series.

Usage: scripts/intake_series.py target/release/callcenter BATCHES
       scripts/intake_series.py target/release/callcenter 30m   (batches for 30 minutes; the
       series is then events per second minute by minute)
(uses ports 18081, 15052 and 15060 on 127.0.0.1 and a data directory under /tmp it removes)"""
import json, os, shutil, subprocess, sys, time, urllib.request

binary, amount = sys.argv[1], sys.argv[2]
minutes = float(amount[:-1]) if amount.endswith("m") else None
batches = 10**9 if minutes else int(amount)
data = f"/tmp/intake-data-{os.getpid()}"
shutil.rmtree(data, ignore_errors=True)
secret = "x" * 40
server = subprocess.Popen([binary, "dev", "--no-demo", "--data-dir", data, "--http", "127.0.0.1:18081",
                           "--grpc", "127.0.0.1:15052", "--sip", "127.0.0.1:15060", "--jwt-secret", secret,
                           "--log", "warn"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    for _ in range(300):
        try:
            urllib.request.urlopen("http://127.0.0.1:18081/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    token = subprocess.check_output([binary, "token", "--tenant", "acme", "--roles", "partner",
                                     "--jwt-secret", secret]).decode().strip()
    base = 1_795_968_000
    times = []
    began = time.monotonic()
    for batch in range(batches):
        if minutes and time.monotonic() - began >= minutes * 60:
            break
        events = []
        for call in range(100):
            call_id = f"b{batch}-c{call}"
            t = base + batch * 1000 + call
            facts = [("offered", {"caller_number": "13800138000", "dialled_number": "95158"}),
                     ("queued", {"queue_id": "repairs", "priority": "normal"}),
                     ("ringing", {"agent_id": "agent-1"}),
                     ("answered", {"agent_id": "agent-1"}),
                     ("ended", {"ended_by": "caller"})]
            for step, (kind, body) in enumerate(facts):
                events.append({"event_id": f"{call_id}-{step}", "call_id": call_id,
                               "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + step * 5)),
                               "fact": {kind: body}})
        request = urllib.request.Request("http://127.0.0.1:18081/v1/partner/call-events",
                                         data=json.dumps({"events": events}).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=120) as answer:
            results = json.load(answer)["results"]
        elapsed = time.monotonic() - started
        bad = [r for r in results if r.get("outcome") != "recorded"]
        if bad:
            print("rejected:", bad[:2], file=sys.stderr)
            break
        times.append((started - began, elapsed))
    if minutes:
        per_minute = {}
        for at, elapsed in times:
            minute = per_minute.setdefault(int(at // 60), [0, 0.0])
            minute[0] += 500
            minute[1] += elapsed
        rates = [round(count / seconds) for count, seconds in per_minute.values()]
        print(json.dumps({"batches": len(times), "events": 500 * len(times),
                          "events_per_second_by_minute": rates,
                          "last_to_first_minute": round(rates[-1] / rates[0], 2) if rates else None}))
    else:
        print(json.dumps({"batches": len(times), "seconds": [round(x, 3) for _, x in times]}))
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(data, ignore_errors=True)
