"""Runs a click command so that bad input ends in one clear line and a non-zero exit."""
from __future__ import annotations

import os
import sys

import click

from . import lifeline
from .write import ShardError, WriteError


def run_cli(command: click.Command, prog: str, args: list[str] | None = None) -> None:
    lifeline.stop_on_signals()
    try:
        command.main(args=args, prog_name=f"python -m warp_ir_dataset.{prog}", standalone_mode=False)
    except click.UsageError as e:
        click.echo(f"{prog}: error: {e.format_message()} (see --help)", err=True)
        sys.exit(2)
    except (click.ClickException, ShardError) as e:
        message = e.format_message() if isinstance(e, click.ClickException) else str(e)
        click.echo(f"{prog}: error: {message}", err=True)
        sys.exit(1)
    except WriteError as e:
        click.echo(
            f"{prog}: error: {e}; every file finished before it is kept and whole: free space (or make the folder "
            "writable) and run the same command to go on from there",
            err=True,
        )
        sys.exit(1)
    except (click.Abort, KeyboardInterrupt) as e:  # click turns Ctrl-C (and so a Stopped) into Abort
        stopped = lifeline.stopped_by(e)
        how = f"stopped by {stopped}" if stopped else "interrupted"
        click.echo(f"{prog}: {how}; finished shards are kept, run the same command to resume", err=True)
        sys.exit(128 + stopped.signum if stopped else 130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as e:  # a file or folder the command could not read or write: the user can mend that
        where = f"{e.filename}: " if e.filename else ""
        click.echo(f"{prog}: error: {where}{e.strerror or e}", err=True)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - a user gets one line; WARP_IR_DEBUG=1 shows the trace
        if os.environ.get("WARP_IR_DEBUG"):
            raise
        click.echo(f"{prog}: internal error: {type(e).__name__}: {e} (set WARP_IR_DEBUG=1 for details)", err=True)
        sys.exit(1)
