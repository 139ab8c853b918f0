"""Publish a built dataset folder (card + Parquet shards) to the Hugging Face Hub.

    python -m warp_ir_dataset.push data/production --repo-id ORG/NAME [--revision BRANCH]
        [--private] [--tag v1.0] [--dry-run] [--endpoint URL]

Only ``README.md`` and ``<config>/*.parquet`` are sent: temp shards (``.name.tmp-PID``), lock
files, rejects and anything hidden stay local. The upload goes through ``HfApi.upload_folder``,
which in huggingface_hub 2.x (with hf_xet installed, the default) commits large folders in several
batches; re-running an interrupted push resumes it, because files whose content already matches
the remote are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import click
from huggingface_hub import HfApi, get_token
from huggingface_hub.constants import DEFAULT_REVISION
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import filter_repo_objects

try:  # huggingface_hub 2.x speaks httpx2, 1.x httpx
    from httpx2 import HTTPError as TransportError
except ImportError:
    from httpx import HTTPError as TransportError

# fnmatch-style, matched against the whole relative path, where `*` also crosses `/`: hence the
# explicit "*/*/*" to keep shards exactly one folder deep.
ALLOW_PATTERNS = ("README.md", "*/*.parquet")
IGNORE_PATTERNS = (".*", "*/.*", "*rejects*", "*/*/*")


class PushError(click.ClickException):
    """Bad input or a refused request: shown as one `push: error: ...` line (as every command's
    errors are), exit status 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"push: error: {self.format_message()}", err=True)


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    revision: str
    files: list[tuple[str, int]]  # (path relative to the folder, size in bytes), sorted
    dry_run: bool
    commit_url: str | None = None
    oid: str | None = None
    tag: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def summary(self) -> str:
        what = f"{len(self.files)} files, {self.total_bytes:,} bytes"
        if self.dry_run:
            return f"dry run: would push {what} to {self.repo_id}@{self.revision} (nothing contacted)"
        tag = f", tagged {self.tag}" if self.tag else ""
        where = f"{self.repo_id}@{self.revision}"
        return f"pushed {what} to {where} (unchanged files skipped): {self.commit_url}{tag}"


def _belongs(rel: Path) -> bool:
    if any(part.startswith(".") for part in rel.parts) or "rejects" in rel.as_posix():
        return False
    return rel.as_posix() == "README.md" or (len(rel.parts) == 2 and rel.suffix == ".parquet")


def files_to_push(folder: Path) -> list[tuple[str, int]]:
    """The card and shards of `folder`, as sorted (relative posix path, size) pairs."""
    return sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file() and _belongs(p.relative_to(folder))
    )


def _checked_files(folder: Path) -> list[tuple[str, int]]:
    if not folder.is_dir():
        raise PushError(f"{folder} is not a folder")
    files = files_to_push(folder)
    names = {name for name, _ in files}
    if "README.md" not in names:
        raise PushError(f"{folder} has no README.md (the dataset card)")
    if len(names) == 1:
        raise PushError(f"{folder} has no shards (<config>/*.parquet)")
    # upload_folder selects files with the patterns, not with files_to_push: refuse to push if
    # the two ever disagree rather than publish (or silently drop) something unexpected.
    every = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    by_patterns = set(
        filter_repo_objects(every, allow_patterns=list(ALLOW_PATTERNS), ignore_patterns=list(IGNORE_PATTERNS))
    )
    if by_patterns != names:
        odd = sorted(by_patterns ^ names)
        raise PushError(f"upload patterns and file list disagree on: {', '.join(odd[:5])}")
    return files


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    tag: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
) -> PushResult:
    """Push the card and shards of `folder` to the dataset repo `repo_id`, creating it if missing.

    Raises PushError on bad input or a missing token; Hub errors (HfHubHTTPError) propagate.
    Re-running after a failure resumes: already committed files are not sent again.
    """
    folder = Path(folder)
    result = PushResult(repo_id, revision or DEFAULT_REVISION, _checked_files(folder), dry_run)
    if dry_run:
        return result
    token = token or get_token()
    if not token:
        raise PushError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run)")

    api = HfApi(endpoint=endpoint, token=token, library_name="warp-ir-dataset")
    # private=None leaves the Hub's (or the org's) default visibility; existing repos are untouched.
    api.create_repo(repo_id, repo_type="dataset", private=True if private else None, exist_ok=True)
    if revision and revision != DEFAULT_REVISION and not revision.startswith("refs/"):
        api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=folder,
        revision=revision,
        commit_message=f"Upload {len(result.files)} files with warp_ir_dataset.push",
        # Fresh lists: upload_folder appends its defaults to ignore_patterns in place.
        allow_patterns=list(ALLOW_PATTERNS),
        ignore_patterns=list(IGNORE_PATTERNS),
    )
    if tag:
        # Tag the exact commit just made, not whatever the branch points to by then.
        api.create_tag(repo_id, repo_type="dataset", tag=tag, revision=info.oid)
    return replace(result, commit_url=info.commit_url, oid=info.oid, tag=tag)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _refusal(e: HfHubHTTPError) -> str:
    response = e.response
    detail = e.server_message or str(e).splitlines()[0]
    where = f"{response.request.method} {response.request.url.path}"
    return _one_line(f"{response.status_code} {response.reason_phrase}: {detail} ({where})")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--repo-id", required=True, help="Dataset repo, ORG/NAME; created if missing.")
@click.option("--revision", default=None, help="Branch to push to (created if missing); default main.")
@click.option("--private", is_flag=True, help="Create the repo private (an existing one keeps its visibility).")
@click.option("--tag", default=None, help="Tag the pushed commit, e.g. v1.0.")
@click.option("--dry-run", is_flag=True, help="List the files and sizes that would be sent; contact nothing.")
@click.option("--endpoint", default=None, help="Hub URL; default from HF_ENDPOINT or huggingface.co.")
def main(
    folder: Path,
    repo_id: str,
    revision: str | None,
    private: bool,
    tag: str | None,
    dry_run: bool,
    endpoint: str | None,
) -> None:
    """Push the dataset card and Parquet shards of FOLDER to the Hugging Face Hub."""
    try:
        result = push_folder(
            folder, repo_id, revision=revision, private=private, tag=tag, dry_run=dry_run, endpoint=endpoint
        )
    except HfHubHTTPError as e:
        raise PushError(f"the Hub refused the request: {_refusal(e)}") from None
    except TransportError as e:
        raise PushError(_one_line(f"cannot reach the Hub: {e}")) from None
    except ValueError as e:  # invalid repo id, README metadata rejected, ...
        raise PushError(_one_line(str(e))) from None
    if dry_run:
        for name, size in result.files:
            click.echo(f"{size:>14,}  {name}")
    click.echo(result.summary())


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "push")
