"""``python -m aria_connector_testkit.simulators serve KEY --port 9101 [--seed N --records N ...]``"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from . import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aria_connector_testkit.simulators")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a vendor simulator")
    serve.add_argument("key", help="connector key, e.g. crowdstrike_falcon")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9101)
    serve.add_argument("--seed", type=int)
    serve.add_argument("--records", type=int, help="records per stream")
    serve.add_argument("--malformed", type=int)
    serve.add_argument("--per-timestamp", type=int, help="records sharing one timestamp")
    serve.add_argument("--client-id")
    serve.add_argument("--client-secret")
    serve.add_argument("--token-ttl", type=int)
    serve.add_argument("--rate-limit", type=int, help="requests per window")
    serve.add_argument("--rate-window-seconds", type=float)
    serve.add_argument("--offset-window", type=int, help="offset + limit a query page may reach (0: none), "
                                                          "where the simulator has such a vendor ceiling")
    sub.add_parser("list", help="list connectors that ship an HTTP simulator")
    args = parser.parse_args(argv)

    if args.command == "list":
        from aria_connectors import registry

        from .. import simulator_module

        for key, plugin in registry.discover().items():
            module = simulator_module(plugin)
            if module is not None and hasattr(module, "create_app"):
                print(key)
        return 0

    options = {k: v for k, v in vars(args).items()
               if k not in ("command", "key", "host", "port") and v is not None}
    try:
        app = create_app(args.key, **options)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
