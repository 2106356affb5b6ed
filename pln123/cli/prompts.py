"""`pln123 prompts build`: render the prompt catalogue and number fragments to WAV files.

Thin on purpose: it loads the config, calls ivr.prompts and prints progress and a summary.
Exit status 0 when every file is in place, 1 otherwise (invalid config, espeak-ng or sox
missing, a render failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from ivr.prompts.build import (
    DEFAULT_CONFIG,
    DEFAULT_SOUNDS_DIR,
    DEFAULT_WORKERS,
    BuildReport,
    Outcome,
    build_prompts,
    plan_jobs,
)
from ivr.prompts.errors import PromptError
from ivr.prompts.render import RenderJob
from pln123.cli._config import load_or_report


def register(commands: Any) -> None:
    group = commands.add_parser(
        "prompts",
        help="render the IVR prompts to sound files",
        description="Render every catalogue prompt in every configured language, and the "
        "number fragments, with espeak-ng and sox into <sounds-dir>/<lang>/pln123/<id>.wav "
        "(8 kHz mono 16-bit). A recording an admin puts there with the same id is kept.",
    )
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    build = verbs.add_parser("build", help="render what changed since the last build")
    build.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                       help="admin config (default: deploy/config/pln.yaml)")
    build.add_argument("--sounds-dir", type=Path, default=DEFAULT_SOUNDS_DIR, metavar="DIR",
                       help="where <lang>/pln123/ folders go (default: build/sounds)")
    build.add_argument("--only", metavar="ID,...",
                       help="only these prompt or fragment ids (e.g. welcome,num-7)")
    build.add_argument("--jobs", type=int, default=DEFAULT_WORKERS, metavar="N",
                       help=f"renders in parallel (default {DEFAULT_WORKERS})")
    build.set_defaults(handler=build_command)


def build_command(args: argparse.Namespace) -> int:
    config = load_or_report(args.config, "nothing built")
    if config is None:
        return 1
    only = None
    if args.only is not None:
        only = {item.strip() for item in args.only.split(",") if item.strip()}
    try:
        plan = plan_jobs(config.prompts, config.languages, only=only)
        for warning in plan.warnings:
            print(f"pln123 prompts: warning: {warning}", file=sys.stderr)
        report = build_prompts(
            plan.jobs,
            args.sounds_dir,
            workers=args.jobs,
            progress=Progress(sys.stdout),
            prune=only is None,
        )
    except PromptError as error:
        print(f"pln123 prompts: error: {error}", file=sys.stderr)
        return 1
    summarise(report, sys.stdout)
    return 1 if report.failed else 0


class Progress:
    """One updating line on a terminal; on a pipe (CI logs) one line per file that changed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()

    def __call__(self, done: int, total: int, job: RenderJob, outcome: Outcome) -> None:
        width = len(str(total))
        line = f"[{done:>{width}}/{total}] {outcome:<15} {job.name}"
        if self.tty:
            end = "\n" if done == total else ""
            self.out.write(f"\r\033[K{line}{end}")
            self.out.flush()
        elif outcome != "up to date":
            print(line, file=self.out, flush=True)


def summarise(report: BuildReport, out: TextIO) -> None:
    for job, files in report.admin:
        names = ", ".join(path.name for path in files)
        print(f"kept admin recording {job.language}/{names}", file=out)
    for path in report.removed:
        print(f"removed {path}", file=out)
    for job, message in report.failed:
        print(f"FAILED {job.name}: {message}", file=sys.stderr)
    print(
        f"{report.sounds_dir}: {len(report.rendered)} rendered, {len(report.up_to_date)} up to "
        f"date, {len(report.admin)} admin recordings, {len(report.failed)} failed "
        f"in {report.seconds:.1f} s",
        file=out,
    )
