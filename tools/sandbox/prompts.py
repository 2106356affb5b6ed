"""Prompts for the sandbox Asterisk: build what changed, install into the shared root.

Called by `Sandbox.up`. A sandbox without prompts is still useful (AMI, dialplan and trunk
tests need none), so nothing here stops `up`: every problem becomes a loud warning, and a
test that needs prompts then fails on the missing file with that warning in its output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts.build import DEFAULT_CONFIG, DEFAULT_SOUNDS_DIR, build_prompts, plan_jobs
from ivr.prompts.errors import PromptError
from ivr.prompts.install import install_sounds
from pln123.config import ConfigError, load_config


@dataclass
class SandboxPrompts:
    installed: dict[str, Path] = field(default_factory=dict)  # language -> folder in root
    warnings: list[str] = field(default_factory=list)
    summary: str = ""


def warn_loudly(message: str) -> None:
    print(f"\n*** pln123 sandbox: WARNING: {message}\n", file=sys.stderr, flush=True)


def provide_prompts(
    root: Path,
    *,
    config_path: Path = DEFAULT_CONFIG,
    sounds_dir: Path = DEFAULT_SOUNDS_DIR,
    warn: Callable[[str], None] = warn_loudly,
) -> SandboxPrompts:
    """Build the shipped catalogue if needed and install it; never raises PromptError.

    A build that cannot run (no espeak-ng or sox, invalid config) still installs whatever
    was built before, so an old set beats silence.
    """
    result = SandboxPrompts()
    try:
        config = load_config(config_path)
        plan = plan_jobs(config.prompts, config.languages)
        result.warnings += plan.warnings
        report = build_prompts(plan.jobs, sounds_dir, prune=True)
        result.warnings += [f"prompt {job.name}: {message}" for job, message in report.failed]
        result.summary = (f"prompts: {len(report.rendered)} rendered, "
                          f"{len(report.up_to_date)} up to date, {len(report.admin)} admin "
                          f"recordings in {report.seconds:.1f} s")
    except ConfigError as error:
        result.warnings.append(f"{config_path} is invalid ({len(error.problems)} problems; "
                               f"pln123 config check {config_path}); prompts not rebuilt")
    except PromptError as error:
        result.warnings.append(f"prompts not rebuilt: {error}")
    try:
        result.installed = install_sounds(sounds_dir, root)
    except (PromptError, OSError) as error:
        result.warnings.append(f"prompts not installed, IVR tests will fail: {error}")
    for message in result.warnings:
        warn(message)
    return result
