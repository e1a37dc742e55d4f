"""
`allennlp xner-serve ARCHIVE`: the tagging service (`xner_allennlp.service`) of an archived
model over HTTP. The port is bound before the model loads, so a port in use is reported at
once; the service starts answering once the model is loaded.
"""

import argparse
import errno
import logging
import socket
import sys

from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError

from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.service.defaults import DEFAULT_BATCH_SIZE, DEFAULT_MAX_REQUEST_BYTES

logger = logging.getLogger(__name__)

_DESCRIPTION = """Serve an archived model over HTTP. POST /tag with {"text": "..."} answers the
predictor's JSON (tokens, BIOUL tags, entities with character offsets, end exclusive, counted in
code points of the text in Unicode NFC); {"texts": [...]} answers a list of those. The inputs of
concurrent requests are tagged together, up to --batch-size per model call. GET / is a page that
highlights the entities of a pasted text; GET /health reports the settings. Errors are JSON
{"error": "..."}: 400 for bad JSON, 413 for a body over --max-request-bytes."""


@Subcommand.register("xner-serve")
class XnerServe(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        subparser = parser.add_parser(
            self.name,
            description=_DESCRIPTION,
            help="Serve a model over HTTP, with a page that highlights entities.",
        )
        subparser.add_argument("archive_file", help="the archived model (model.tar.gz)")
        subparser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        subparser.add_argument(
            "--port", type=count(0, " (0: any free port)"), default=8000, help="port (default 8000)"
        )
        subparser.add_argument(
            "--batch-size",
            type=count(1),
            default=DEFAULT_BATCH_SIZE,
            help=f"most inputs, of all waiting requests, per model call (default {DEFAULT_BATCH_SIZE})",
        )
        subparser.add_argument(
            "--max-request-bytes",
            type=count(1),
            default=DEFAULT_MAX_REQUEST_BYTES,
            help=f"largest request body; larger ones get a 413 (default {DEFAULT_MAX_REQUEST_BYTES})",
        )
        subparser.add_argument(
            "--language",
            default=None,
            help="tokenizer language (bn, de, en, es, nl, xx); default: the model's target language",
        )
        subparser.add_argument("--cuda-device", type=int, default=-1, help="GPU id, -1 for the CPU (default)")
        subparser.add_argument(
            "--num-threads",
            default=None,
            help='torch threads: a number or "auto" (default: $XNER_NUM_THREADS, else torch\'s)',
        )
        return add_command(subparser, serve_from_args)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port`; a port in use or an unknown host is a
    `ConfigurationError` naming the option."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ConfigurationError(
            f"--host {host}: not an address of this machine ({error.strerror})"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As aiohttp's own sites: a restarted server can take its port back at once (a port
        # with a listening socket still fails, which is the check wanted).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"--port {port}: {host}:{port} is already in use (another xner-serve?); "
                "choose another --port, or 0 for any free one"
            ) from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise ConfigurationError(f"--host {host}: not an address of this machine") from None
        if error.errno == errno.EACCES:
            raise ConfigurationError(f"--port {port}: not allowed (ports below 1024 need root)") from None
        raise
    return sock


def serve_from_args(args: argparse.Namespace) -> None:
    from aiohttp import web

    from xner_allennlp.service.app import make_app
    from xner_allennlp.tagger import Tagger

    sock = bind(args.host, args.port)
    try:
        tagger = Tagger.from_archive(
            args.archive_file,
            language=args.language,
            cuda_device=args.cuda_device,
            batch_size=args.batch_size,
            num_threads=args.num_threads,
        )
        app = make_app(
            tagger.predictor,
            batch_size=args.batch_size,
            max_request_bytes=args.max_request_bytes,
            model=args.archive_file,
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(
            f"xner-serve: {args.archive_file} (language {tagger.language}) at http://{shown}:{port}/",
            flush=True,
        )
        # The access log stays off: INFO lines per request would drown the service's own log.
        web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)
    finally:
        sock.close()
    sys.stdout.flush()
