"""`python -m hooks serve --host H --port P` and `python -m hooks render FILE...`."""

from __future__ import annotations

import argparse
import pathlib
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Metacontroller hooks over HTTP")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--log-level", default="info")
    render = commands.add_parser("render", help="print the children the hooks would create")
    render.add_argument("files", nargs="+", type=pathlib.Path)
    args = parser.parse_args(argv)

    if args.command == "serve":
        import uvicorn

        from hooks.app import create_app

        uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level)
        return 0
    from hooks.render import render_files

    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    sys.stdout.write(render_files(args.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
