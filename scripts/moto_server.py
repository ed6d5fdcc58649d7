"""Runs the moto server (the local AWS emulator) on a loopback port.

Prints one line, `listening on http://127.0.0.1:PORT`, once it accepts requests, and
stops when its standard input closes: the test binary or demo that started it holds
the other end, so the server cannot outlive it, however that process ends.

    python scripts/moto_server.py [--port 0]
"""

import argparse
import logging
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    # One line per request, and a traceback for each action the emulator lacks, drown test output.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"listening on http://{host}:{port}", flush=True)
    sys.stdin.read()  # returns at end of file: the parent is gone
    server.stop()


if __name__ == "__main__":
    main()
