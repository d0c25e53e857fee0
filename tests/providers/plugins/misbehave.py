"""Deliberately broken Kiln provider plugins, for the host's failure tests.

Each kiln-provider-<behaviour> script here calls run("<behaviour>"). They
answer `initialize` and `configure` properly (except `oldproto`), then
misbehave on `apply` (crash) or `plan` (everything else).
"""
import json
import os
import signal
import sys
import time


def read_message():
    length = None
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(sys.stdin.buffer.read(length))


def write_raw(data):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def send(msg):
    body = json.dumps(msg).encode()
    write_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def run(behaviour):
    while True:
        msg = read_message()
        if msg is None:
            return
        method, mid = msg["method"], msg.get("id")
        if method == "initialize":
            version = 2 if behaviour == "oldproto" else 1
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "name": behaviour, "version": "6.6.6", "protocol_version": version,
                "config": {"fields": {}},
                "kinds": {"thing": {"fields": {"x": {"type": "int"}}}}, "capabilities": []}})
            continue
        if behaviour == "crash" and method == "apply":
            print("boom: disk on fire", file=sys.stderr, flush=True)
            sys.exit(3)
        if method == "plan":
            if behaviour == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
            if behaviour == "hang":
                print("thinking very hard", file=sys.stderr, flush=True)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL works
                while True:
                    time.sleep(60)
            if behaviour == "garbage":
                write_raw(b"Traceback? no: this is not a frame at all\n")
                time.sleep(30)
            if behaviour == "badjson":
                write_raw(b"Content-Length: 9\r\n\r\n{not json")
                time.sleep(30)
            if behaviour == "rpcerror":
                send({"jsonrpc": "2.0", "id": mid,
                      "error": {"code": -32000, "message": "quota exceeded in region moon-1"}})
                continue
        if method == "shutdown":
            send({"jsonrpc": "2.0", "id": mid, "result": {}})
            return
        send({"jsonrpc": "2.0", "id": mid, "result": {"diagnostics": [], "planned": msg["params"].get("config"), "state": None}})
