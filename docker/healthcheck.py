"""The image's HEALTHCHECK, for every role: healthy when `voxnote serve` answers GET /health, or when the
bot's /healthz (VOXNOTE_HEALTH_PORT, set by the image) says its job workers are alive.

Standard library only: the slim base image has no curl. Exit 0 healthy, 1 not (Docker's contract)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 4.0


def probe_host(bound: str) -> str:
    """Where to reach a server from inside its own container: loopback when it binds every address."""
    if bound in ("", "0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    return f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound  # an IPv6 address in a URL


def urls(env: dict[str, str]) -> list[str]:
    """The service's /health and, when the bot serves one, its /healthz; one container runs one role."""
    found = [f"http://{probe_host(env.get('VOXNOTE_SERVICE_HOST', '127.0.0.1'))}:"
             f"{env.get('VOXNOTE_SERVICE_PORT') or '8000'}/health"]
    if env.get("VOXNOTE_HEALTH_PORT"):
        found.append(f"http://{probe_host(env.get('VOXNOTE_HEALTH_HOST', '127.0.0.1'))}:"
                     f"{env['VOXNOTE_HEALTH_PORT']}/healthz")
    return found


def main() -> int:
    problems = []
    for url in urls(dict(os.environ)):
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # 2XX only; 503 raises
                print(f"healthy: {url} answered {response.status}")
                return 0
        except (urllib.error.URLError, OSError) as exc:
            problems.append(f"{url}: {getattr(exc, 'reason', exc)}")
    print("unhealthy: " + "; ".join(problems), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
