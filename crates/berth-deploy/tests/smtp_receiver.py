"""An SMTP server on 127.0.0.1 for the email notifier's tests.

Listens on an ephemeral port and prints it on stdout, then serves until its
standard input closes (the test holds the pipe, so the server dies with it).
Offers STARTTLS when given a certificate (or TLS from the first byte with
--implicit-tls), AUTH PLAIN/LOGIN checked against --user/--password, and
appends one JSON line per session event to --log:

  {"event": "auth", "ok": bool, "tls": bool, "mechanism": str, "login": str}
  {"event": "message", "tls": bool, "mail_from": str, "rcpt_tos": [str], "data": str}
  {"event": "tempfail", "tls": bool}   (a DATA refused with 451, see --tempfail)
"""

import argparse
import asyncio
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True, help="JSON lines file to append to")
    p.add_argument("--cert", help="PEM certificate chain; enables TLS")
    p.add_argument("--key", help="PEM private key of --cert")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte instead of STARTTLS")
    p.add_argument("--user", help="AUTH user; AUTH is off without it")
    p.add_argument("--password", help="AUTH password")
    p.add_argument("--tempfail", type=int, default=0, help="answer the first N DATA commands with 451")
    return p.parse_args()


class Recorder:
    """Writes what happened, one JSON object a line, flushed at once so the
    test sees it as soon as the client has its reply."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")

    def write(self, **fields):
        self.file.write(json.dumps(fields) + "\n")
        self.file.flush()


def is_tls(server, session):
    # session.ssl is set once a STARTTLS handshake is done; an implicit-TLS
    # listener has the SSL object on the transport from the start.
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


class Handler:
    def __init__(self, recorder, tempfail):
        self.recorder = recorder
        self.tempfail = tempfail

    async def handle_DATA(self, server, session, envelope):
        tls = is_tls(server, session)
        if self.tempfail > 0:
            self.tempfail -= 1
            self.recorder.write(event="tempfail", tls=tls)
            return "451 4.3.0 Try again later"
        self.recorder.write(
            event="message",
            tls=tls,
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=envelope.content.decode("utf-8", "replace"),
        )
        return "250 2.0.0 OK"


def authenticator(recorder, user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else ""
        recorder.write(event="auth", ok=ok, tls=is_tls(server, session), mechanism=mechanism, login=login)
        return AuthResult(success=ok, handled=False)

    return check


def tls_context(args):
    if not args.cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


async def serve(args):
    recorder = Recorder(args.log)
    handler = Handler(recorder, args.tempfail)
    ctx = tls_context(args)
    auth = {}
    starttls_ctx = None if args.implicit_tls else ctx
    if args.user:
        # With STARTTLS offered, AUTH is refused until it is done: a client
        # must not send credentials before. An implicit-TLS session is TLS
        # from the start, and a plain one has none to wait for.
        auth = dict(
            authenticator=authenticator(recorder, args.user, args.password),
            auth_require_tls=starttls_ctx is not None,
        )

    def factory():
        return SMTP(
            handler, hostname="localhost", tls_context=starttls_ctx, require_starttls=starttls_ctx is not None, loop=loop, **auth
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=ctx if args.implicit_tls else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Serve until the test closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve(parse_args()))
