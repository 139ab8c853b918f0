"""warp_ir_dataset.push against a small in-process fake of the Hub's HTTP API.

The real `HfApi` client talks to the fake over HTTP, so these tests exercise the same requests
(create repo, branch, preupload, NDJSON commits, tags) that a real push makes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError

from warp_ir_dataset.push import files_to_push, main, push_folder

TOKEN = "hf_fake_test_token"
REPO = "warp-org/warp-ir"


def git_blob_oid(data: bytes) -> str:
    # What the Hub reports as a regular file's oid; the client compares it to decide "unchanged".
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # oid -> full snapshot
    branches: dict[str, str] = field(default_factory=dict)  # name -> oid
    tags: dict[str, str] = field(default_factory=dict)  # name -> oid

    def resolve(self, rev: str) -> str | None:
        if rev in self.branches:
            return self.branches[rev]
        return rev if rev in self.commits else self.tags.get(rev)


class FakeHub:
    """Just enough of the Hub API for create_repo, create_branch, upload_folder and create_tag."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []
        self.unknown: list[str] = []
        self.commit_posts = 0
        self.receipts: Counter[str] = Counter()  # path -> times its content came in a commit
        self.refuse_create: int | None = None  # status to answer /api/repos/create with
        self.refuse_commits_from: int | None = None  # n: refuse the n-th /commit POST and later
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def files(self, repo_id: str, rev: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo.commits[repo.resolve(rev)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                with hub.lock:
                    hub.requests.append(f"{self.command} {path}")
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        status, payload = 401, {"error": "Invalid credentials in Authorization header"}
                    else:
                        status, payload = hub.route(self.command, path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if (method, path) == ("POST", "/api/repos/create"):
            return self.create_repo(json.loads(body))
        if (method, path) == ("POST", "/api/validate-yaml"):
            return 200, {"errors": [], "warnings": []}
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/(\w+)/(.+))?", path)
        if m is not None:
            repo = self.repos.get(m[1])
            if repo is None:
                return 404, {"error": "Repository not found"}
            if method == "GET" and m[2] in (None, "revision"):
                sha = repo.resolve(unquote(m[3] or "main"))
                if sha is None:
                    return 404, {"error": "Invalid rev id"}
                siblings = [{"rfilename": name} for name in sorted(repo.commits[sha])]
                return 200, {"id": m[1], "sha": sha, "private": repo.private, "siblings": siblings}
            if method == "POST" and m[2] in ("preupload", "branch", "tag"):
                return getattr(self, m[2])(repo, unquote(m[3]), json.loads(body))
            if method == "POST" and m[2] == "commit":
                return self.commit(repo, unquote(m[3]), body)
        self.unknown.append(f"{method} {path}")
        return 501, {"error": f"fake hub: no route for {method} {path}"}

    def create_repo(self, payload: dict[str, Any]) -> tuple[int, Any]:
        if self.refuse_create:
            message = "You don't have the rights to create a dataset under this namespace"
            return self.refuse_create, {"error": message}
        repo_id = f"{payload['organization']}/{payload['name']}"
        if payload.get("type") != "dataset":
            return 400, {"error": "fake hub: only datasets"}
        url = f"{self.url}/datasets/{repo_id}"
        if repo_id in self.repos:  # like the Hub, still with the url: create_repo(exist_ok=True) reads it
            return 409, {"error": "You already created this dataset repo", "url": url}
        repo = self.repos[repo_id] = Repo(repo_id, private=payload.get("visibility") == "private")
        repo.commits["0" * 40] = {}
        repo.branches["main"] = "0" * 40
        return 200, {"url": url}

    def preupload(self, repo: Repo, rev: str, payload: dict[str, Any]) -> tuple[int, Any]:
        sha = repo.resolve(rev)
        if sha is None:
            return 404, {"error": "Invalid rev id"}
        current = repo.commits[sha]
        # Always "regular": contents then come inline in the commit, and no xet/LFS storage is needed.
        return 200, {"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_oid(current[f["path"]]) if f["path"] in current else None}
            for f in payload["files"]
        ]}

    def commit(self, repo: Repo, rev: str, body: bytes) -> tuple[int, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        for line in lines:  # counted on arrival, whether or not the commit is then accepted
            if line["key"] == "file":
                self.receipts[line["value"]["path"]] += 1
        self.commit_posts += 1
        if self.refuse_commits_from is not None and self.commit_posts >= self.refuse_commits_from:
            return 507, {"error": "fake hub: storage unavailable"}  # a status the client does not retry
        if rev not in repo.branches:
            return 404, {"error": "Invalid rev id"}
        if lines[0]["key"] != "header":
            return 400, {"error": "fake hub: header first"}
        files = dict(repo.commits[repo.branches[rev]])
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file" and value["encoding"] == "base64":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "deletedFile":
                files.pop(value["path"], None)
            else:
                return 400, {"error": f"fake hub: unsupported operation {line['key']}"}
        oid = hashlib.sha1(f"{len(repo.commits)}:{rev}".encode()).hexdigest()
        repo.commits[oid] = files
        repo.branches[rev] = oid
        url = f"{self.url}/datasets/{repo.repo_id}/commit/{oid}"  # the client parses it: keep the Hub's shape
        return 200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None}

    def branch(self, repo: Repo, name: str, payload: dict[str, Any]) -> tuple[int, Any]:
        if name in repo.branches:
            return 409, {"error": "Branch already exists"}
        repo.branches[name] = repo.resolve(payload.get("startingPoint", "main"))
        return 200, {}

    def tag(self, repo: Repo, rev: str, payload: dict[str, Any]) -> tuple[int, Any]:
        if payload["tag"] in repo.tags:
            return 409, {"error": "Tag already exists"}
        repo.tags[payload["tag"]] = repo.resolve(rev)
        return 200, {}


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    # huggingface_hub reads these at import time: point them at the test home too.
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    # Multi-commit, resumable upload_folder exists only on the xet code path (HF_HUB_DISABLE_XET
    # falls back to one big commit); the fake answers "regular", so no xet transfer happens anyway.
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    fake = FakeHub()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    assert fake.unknown == [], "the client made requests the fake hub does not implement"


def write_shard(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"seed": [seed, seed + 1], "source": [f"kernel_{seed}", f"kernel_{seed + 1}"]})
    pq.write_table(table, path)


def make_dataset(root: Path, shards_per_config: int = 1) -> Path:
    root.mkdir(parents=True)
    (root / "README.md").write_text("---\nconfigs:\n- config_name: cpu\n  data_files: cpu/*.parquet\n---\n# Warp\n")
    for c, config in enumerate(("cpu", "cuda")):
        for i in range(shards_per_config):
            write_shard(root / config / f"train-{i:05d}.parquet", seed=1000 * c + i)
    # Never to be pushed: temp shard, lock, rejects, nested and hidden leftovers.
    (root / "cpu" / ".train-00001.parquet.tmp-123").write_bytes(b"partial")
    (root / ".build.lock").write_text("pid 123")
    (root / "cpu" / "rejects.jsonl").write_text('{"seed": 7}\n')
    write_shard(root / "cpu" / "old" / "train-00000.parquet", seed=7)
    write_shard(root / ".cache" / "x" / "train-00000.parquet", seed=8)
    return root


def local_files(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name, _ in files_to_push(root)}


def test_files_to_push_keeps_card_and_shards_only(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    assert files_to_push(root) == [
        ("README.md", (root / "README.md").stat().st_size),
        ("cpu/train-00000.parquet", (root / "cpu/train-00000.parquet").stat().st_size),
        ("cuda/train-00000.parquet", (root / "cuda/train-00000.parquet").stat().st_size),
    ]


def test_push_sends_card_and_shards_and_tags(hub: FakeHub, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    result = push_folder(root, REPO, revision="release", private=True, tag="v1.0", endpoint=hub.url)

    expected = local_files(root)
    assert set(expected) == {"README.md", "cpu/train-00000.parquet", "cuda/train-00000.parquet"}
    assert set(hub.receipts) == set(expected)  # nothing else was even sent
    assert hub.files(REPO, "release") == expected  # exactly these paths, byte-identical
    assert hub.files(REPO, "main") == {}  # the branch was created and main left alone
    assert hub.repos[REPO].private
    assert hub.repos[REPO].tags == {"v1.0": result.oid}
    assert hub.files(REPO, "v1.0") == expected
    assert result.files == files_to_push(root)
    assert result.total_bytes == sum(len(b) for b in expected.values())
    assert result.commit_url and result.oid in result.commit_url


def test_interrupted_push_resumes_without_resending(hub: FakeHub, tmp_path: Path) -> None:
    # upload_folder commits at most 250 files per commit at first, so 261 files take two commits.
    root = make_dataset(tmp_path / "ds", shards_per_config=130)
    expected = local_files(root)
    assert len(expected) == 261

    hub.refuse_commits_from = 2  # the first commit lands, then the Hub "goes down"
    with pytest.raises(HfHubHTTPError, match="507"):
        push_folder(root, REPO, endpoint=hub.url)
    assert hub.commit_posts == 2  # one commit landed, the next was refused
    landed = hub.files(REPO)
    assert 0 < len(landed) < len(expected)
    assert all(expected[name] == data for name, data in landed.items())

    hub.refuse_commits_from = None
    sent_before = Counter(hub.receipts)
    push_folder(root, REPO, endpoint=hub.url)
    assert hub.files(REPO) == expected
    assert all(hub.receipts[name] == 1 for name in landed)  # sent once, in the first run only
    assert set(hub.receipts - sent_before) == set(expected) - set(landed)  # the second run sent the rest

    # A third run finds nothing to do and makes no commit at all.
    posts = hub.commit_posts
    result = push_folder(root, REPO, endpoint=hub.url)
    assert hub.commit_posts == posts
    assert result.oid == hub.repos[REPO].branches["main"]


def test_dry_run_lists_files_and_contacts_nothing(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN")  # a dry run needs no token either
    root = make_dataset(tmp_path / "ds")
    result = CliRunner().invoke(main, [str(root), "--repo-id", REPO, "--dry-run", "--endpoint", hub.url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split() for line in lines[:-1]] == [[f"{size:,}", name] for name, size in files_to_push(root)]
    total = sum(size for _, size in files_to_push(root))
    assert lines[-1] == f"dry run: would push 3 files, {total:,} bytes to {REPO}@main (nothing contacted)"
    assert hub.requests == []


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", ["missing folder", "no shards", "no card"])
def test_cli_rejects_bad_folders(hub: FakeHub, tmp_path: Path, case: str) -> None:
    root = make_dataset(tmp_path / "ds")
    if case == "no shards":
        for shard in [*root.glob("cpu/*.parquet"), *root.glob("cuda/*.parquet")]:
            shard.unlink()
    elif case == "no card":
        (root / "README.md").unlink()
    folder = str(tmp_path / "nowhere") if case == "missing folder" else str(root)
    code, err = run_cli(folder, "--repo-id", REPO, "--endpoint", hub.url)
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("push: error: ")
    assert {"missing folder": "is not a folder", "no shards": "no shards", "no card": "no README.md"}[case] in err
    assert hub.requests == []


def test_cli_needs_a_token(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    root = make_dataset(tmp_path / "ds")
    code, err = run_cli(str(root), "--repo-id", REPO, "--endpoint", hub.url)
    assert code != 0
    assert err.startswith("push: error: no Hugging Face token") and len(err.splitlines()) == 1
    assert hub.requests == []


def test_cli_reports_a_refusal_in_one_line(hub: FakeHub, tmp_path: Path) -> None:
    hub.refuse_create = 403
    root = make_dataset(tmp_path / "ds")
    code, err = run_cli(str(root), "--repo-id", REPO, "--endpoint", hub.url)
    assert code != 0
    assert len(err.splitlines()) == 1
    assert err.startswith("push: error: the Hub refused the request: 403 Forbidden: You don't have the rights")
    assert REPO not in hub.repos


def test_cli_push_prints_summary(hub: FakeHub, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    result = CliRunner().invoke(main, [str(root), "--repo-id", REPO, "--tag", "v1.0", "--endpoint", hub.url])
    assert result.exit_code == 0, result.output
    oid = hub.repos[REPO].tags["v1.0"]
    assert result.stdout.startswith("pushed 3 files, ")
    assert "(unchanged files skipped)" in result.stdout
    assert result.stdout.rstrip().endswith(f"{oid}, tagged v1.0")
    assert hub.files(REPO) == local_files(root)


def test_cli_takes_h_for_help_as_every_command_does() -> None:
    result = CliRunner().invoke(main, ["-h"])
    assert result.exit_code == 0 and "--repo-id" in result.stdout
