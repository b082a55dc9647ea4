"""The four data providers, faked at the network edge from the recorded fixtures.

`FakeNetwork.handle` answers one HTTP request the way GitHub, ecosyste.ms and
Libraries.io would, from `tests/fixtures/{github,ecosystems,librariesio}/`, with
logins and repository names filled in. The fast lane serves it through
`httpx.MockTransport`; the integration lane through a real HTTP server on
127.0.0.1 (`serve`), for a `wump worker` subprocess. Tests script faults with
`fail(pattern, ...)`: matching requests get those answers first, in order.
"""

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

FIXTURES = Path(__file__).parent.parent / "fixtures"
FAST_BASE = "http://providers.test"


def fixture(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def document(provider: str, name: str) -> dict[str, Any]:
    """A fixture that is a JSON object, as a fresh copy to fill in."""
    data = fixture(provider, name)
    assert isinstance(data, dict)
    return data


def provider_settings(base: str) -> dict[str, str]:
    """Settings that point every provider at the fake network under `base`."""
    return {
        "github_api_url": f"{base}/github",
        "ecosystems_repos_url": f"{base}/ecosystems/repos/api/v1",
        "ecosystems_packages_url": f"{base}/ecosystems/packages/api/v1",
        "libraries_io_url": f"{base}/librariesio/api",
        "deps_dev_url": f"{base}/depsdev",
    }


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Raw bytes sent instead of `body` as JSON (for truncated answers).
    raw: bytes | None = None
    # An httpx exception class raised instead of answering (MockTransport only).
    error: type[httpx.TransportError] | None = None
    # Served over HTTP only: hold the answer until this event is set.
    hold: threading.Event | None = None

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeNetwork:
    # Logins answered as organizations; every other login is a user.
    organizations: set[str] = field(
        default_factory=lambda: {"psf", "home-assistant", "github", "pallets"}
    )
    # Repositories each owner lists (lower-case owner -> names).
    listed: dict[str, list[str]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)
    # Paths (after the provider prefix) that answer 404.
    gone: set[str] = field(default_factory=set)
    stars: dict[str, int] = field(default_factory=dict)
    # Old full name -> new: GitHub answers for the repository under its new name.
    renamed: dict[str, str] = field(default_factory=dict)
    # Bump to make every repository answer a new ETag (a change on GitHub).
    version: int = 1
    faults: list[tuple[re.Pattern[str], list[Reply]]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when a request reaches a held answer.
    holding: threading.Event = field(default_factory=threading.Event)

    def fail(self, pattern: str, *replies: Reply) -> None:
        """Answer requests whose path matches `pattern` with `replies` first, in order."""
        self.faults.append((re.compile(pattern), list(replies)))

    def seen(self, pattern: str) -> list[Seen]:
        regex = re.compile(pattern)
        return [seen for seen in self.requests if regex.search(seen.path)]

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        lowered = {key.lower(): value for key, value in headers.items()}
        with self.lock:
            self.requests.append(Seen(method, parts.path, query, lowered))
            for pattern, replies in self.faults:
                if replies and pattern.search(parts.path):
                    return replies.pop(0)
        return self._route(method, parts.path, query, lowered, body)

    def respond(self, request: httpx.Request) -> httpx.Response:
        """Answer an `httpx` request (for `httpx.MockTransport` and respx)."""
        reply = self.handle(
            request.method, str(request.url), dict(request.headers), request.content
        )
        if reply.error is not None:
            raise reply.error("simulated network failure", request=request)
        headers = {"content-type": "application/json", **reply.headers}
        return httpx.Response(reply.status, content=reply.content(), headers=headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.respond)

    # -- routing --------------------------------------------------------------

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        for prefix, route in (
            ("/github", self._github),
            ("/ecosystems/repos/api/v1", self._ecosystems),
            ("/ecosystems/packages/api/v1", self._packages),
            ("/librariesio/api", self._librariesio),
        ):
            if path.startswith(prefix + "/"):
                rest = path[len(prefix) :]
                if rest in self.gone:
                    return Reply(404, {"message": "Not Found"})
                return route(method, rest, query, headers, body)
        return Reply(404, {"error": "Not Found"})

    def _github(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if method == "POST" and path == "/graphql":
            return Reply(body=self._sponsorship(json.loads(body)["variables"]["login"]))
        if match := re.fullmatch(r"/(?:users|orgs)/([^/]+)/repos", path):
            owner = match.group(1)
            names = self.listed.get(owner.lower(), [])
            return Reply(body=[self._repository(f"{owner}/{name}") for name in names])
        if match := re.fullmatch(r"/users/([^/]+)", path):
            login = match.group(1)
            return Reply(body=self._owner(login, "users_github.json", "users_octocat.json"))
        if match := re.fullmatch(r"/orgs/([^/]+)", path):
            login = match.group(1)
            if login.lower() not in self.organizations:
                return Reply(404, {"message": "Not Found"})
            return Reply(body=self._owner(login, "orgs_github.json", "orgs_github.json"))
        if match := re.fullmatch(r"/repos/([^/]+)/([^/]+)/dependency-graph/sbom", path):
            return Reply(body=self._sbom(f"{match.group(1)}/{match.group(2)}"))
        if match := re.fullmatch(r"/repos/([^/]+)/([^/]+)", path):
            return self._repository_reply(f"{match.group(1)}/{match.group(2)}", headers)
        return Reply(404, {"message": "Not Found"})

    def _owner(self, login: str, organization: str, user: str) -> dict[str, Any]:
        is_org = login.lower() in self.organizations
        data = document("github", organization if is_org else user)
        data.update(
            login=login,
            id=_number(login),
            html_url=f"https://github.com/{login}",
            name=login.title(),
            type="Organization" if is_org else "User",
        )
        return data

    def _sponsorship(self, login: str) -> dict[str, Any]:
        is_org = login.lower() in self.organizations
        kind = "org" if is_org else "user"
        data = document("github", f"graphql_repository_owner_{kind}.json")
        owner = data["data"]["repositoryOwner"]
        owner["login"] = login
        if owner.get("sponsorsListing"):
            owner["sponsorsListing"]["url"] = f"https://github.com/sponsors/{login}"
        return data

    def _repository(self, full_name: str) -> dict[str, Any]:
        owner, name = full_name.split("/")
        data = document("github", "repos_get.json")
        data.update(
            id=_number(full_name.lower()),
            name=name,
            full_name=full_name,
            html_url=f"https://github.com/{full_name}",
            stargazers_count=self.stars.get(full_name.lower(), 10),
            archived=full_name.lower() in self.archived,
            language="Python",
        )
        data["owner"].update(
            login=owner,
            type="Organization" if owner.lower() in self.organizations else "User",
        )
        return data

    def etag(self, full_name: str) -> str:
        digest = hashlib.sha256(f"{full_name.lower()}:{self.version}".encode()).hexdigest()
        return f'W/"{digest[:16]}"'

    def _repository_reply(self, full_name: str, headers: dict[str, str]) -> Reply:
        full_name = self.renamed.get(full_name.lower(), full_name)
        etag = self.etag(full_name)
        if headers.get("if-none-match") == etag:
            return Reply(304, headers={"etag": etag})
        return Reply(body=self._repository(full_name), headers={"etag": etag})

    def _sbom(self, full_name: str) -> dict[str, Any]:
        data = document("github", "dependency_graph_sbom.json")
        data["sbom"]["name"] = f"com.github.{full_name}"
        return data

    def _ecosystems(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if re.fullmatch(r"/usage/[^/]+/[^/]+/dependent_repositories", path):
            first_page = "after_id" not in query
            items = fixture("ecosystems", "usage_dependent_repositories.json")
            return Reply(body=items if first_page else [])
        if match := re.fullmatch(r"/hosts/GitHub/owners/([^/]+)", path):
            data = document("ecosystems", "hosts_owner.json")
            login = match.group(1)
            data.update(login=login, html_url=f"https://github.com/{login}")
            return Reply(body=data)
        return Reply(404, fixture("ecosystems", "not_found.json"))

    def _packages(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if match := re.fullmatch(r"/registries/[^/]+/packages/([^/]+)", path):
            data = document("ecosystems", "registries_package.json")
            data["name"] = unquote(match.group(1))
            return Reply(body=data)
        return Reply(404, fixture("ecosystems", "not_found.json"))

    def _librariesio(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if re.fullmatch(r"/[^/]+/[^/]+/dependent_repositories", path):
            first_page = query.get("page", "1") == "1"
            items = fixture("librariesio", "dependent_repositories.json")
            return Reply(body=items if first_page else [])
        if match := re.fullmatch(r"/[^/]+/([^/]+)", path):
            data = document("librariesio", "project.json")
            data["name"] = unquote(match.group(1))
            return Reply(body=data)
        return Reply(404, fixture("librariesio", "not_found.json"))


def _number(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


@contextmanager
def serve(network: FakeNetwork) -> Iterator[str]:
    """Serve `network` over HTTP on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = network.handle(self.command, self.path, dict(self.headers), body)
            if reply.hold is not None:
                network.holding.set()
                reply.hold.wait(60)
            content = reply.content()
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(content)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        do_GET = _answer  # noqa: N815
        do_POST = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        # A client killed mid-request is expected here, not an error to print.
        def handle_error(self, request: Any, client_address: Any) -> None:
            return None

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
