"""The thumbnailer's cold start: binary size, and the time from process start until it
asks the Lambda runtime API for its first event.

    python cold_start.py BINARY [RUNS] [NAME=VALUE ...]

Each NAME=VALUE is added to the environment (`AWS_XRAY_DAEMON_ADDRESS=...` for a traced start).

A local HTTP server plays the runtime API (AWS_LAMBDA_RUNTIME_API); each run starts
the binary with a Lambda-like environment and measures, on a monotonic clock, from
just before the process is spawned to the arrival of its first
`GET /2018-06-01/runtime/invocation/next`. That covers loading the binary, reading the
configuration, building the AWS SDK clients and starting the runtime: everything the
function does before its first event. Lambda's own sandbox start is not included.
Prints one JSON object.
"""

import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time


def main() -> None:
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    extra = dict(arg.split("=", 1) for arg in sys.argv[3:])
    first_request = threading.Event()
    arrived = [0.0]

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server naming)
            if self.path.endswith("/runtime/invocation/next") and not first_request.is_set():
                arrived[0] = time.monotonic()
                first_request.set()
            # Never answer: the measured process is killed once it has asked.

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "thumbnailer",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/thumbnailer",
        "AWS_LAMBDA_LOG_STREAM_NAME": "cold-start",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDCOLDSTART",
        "AWS_SECRET_ACCESS_KEY": "cold-start",
        "AWS_SESSION_TOKEN": "cold-start",
        "THUMBNAIL_SIZES": "256x256",
        **extra,
    }
    times = []
    for _ in range(runs):
        first_request.clear()
        start = time.monotonic()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not first_request.wait(timeout=10):
            process.kill()
            raise SystemExit(f"{binary} did not ask for an event within 10 s: {process.stderr.read().decode()[-2000:]}")
        times.append((arrived[0] - start) * 1000)
        process.kill()
        process.wait()
    server.shutdown()
    print(json.dumps({
        "binary": binary,
        "binary_mib": os.path.getsize(binary) / (1024 * 1024),
        "runs": runs,
        "median_ms": statistics.median(times),
        "p95_ms": sorted(times)[max(0, round(len(times) * 0.95) - 1)],
    }))


if __name__ == "__main__":
    main()
