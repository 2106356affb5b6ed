"""`pln123 prompts build`: the catalogue and number fragments as files Asterisk plays.

Layout: `<sounds>/<lang>/pln123/<id>.wav`, the folders Asterisk searches by the channel's
language (`CHANNEL(language)=id` plays `id/pln123/welcome.wav`). The build is incremental
and polite (see manifest.py): only changed texts are re-rendered, and an admin's recording
with the same id always wins — it is never overwritten and our file beside it is removed.

Renders run in a small thread pool (each job is two short subprocesses, so threads are
enough); a lock file serialises two builds of the same folder (two `sandbox up`s at once).
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ivr.prompts.catalogue import FRAGMENT_PREFIXES, SOUND_FOLDER
from ivr.prompts.errors import PromptError
from ivr.prompts.manifest import MANIFEST_NAME, Entry, Manifest
from ivr.prompts.numbers import FRAGMENTS
from ivr.prompts.render import RenderJob, Tools, find_tools, render
from ivr.settings import Prompt

REPO_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_DIR / "deploy" / "config" / "pln.yaml"
DEFAULT_SOUNDS_DIR = REPO_DIR / "build" / "sounds"
LOCK_NAME = ".pln123-build.lock"
DEFAULT_WORKERS = 2

Outcome = Literal["rendered", "up to date", "admin recording", "failed"]
Progress = Callable[[int, int, RenderJob, Outcome], None]


@dataclass(frozen=True)
class Plan:
    jobs: list[RenderJob]
    warnings: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    sounds_dir: Path
    rendered: list[RenderJob] = field(default_factory=list)
    up_to_date: list[RenderJob] = field(default_factory=list)
    admin: list[tuple[RenderJob, list[Path]]] = field(default_factory=list)
    failed: list[tuple[RenderJob, str]] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.rendered) + len(self.up_to_date) + len(self.admin) + len(self.failed)


def plan_jobs(
    prompts: Mapping[str, Prompt],
    languages: Sequence[str],
    *,
    fragments: bool = True,
    only: Collection[str] | None = None,
) -> Plan:
    """Every file to make: each prompt in each language, then each language's fragments.

    `only` narrows to those ids (catalogue or fragment); an id that is neither is an error,
    so a typo is not a silent no-op.
    """
    clashes = sorted(p for p in prompts if p.startswith(FRAGMENT_PREFIXES))
    if clashes:
        raise PromptError(
            f"catalogue prompt id(s) {', '.join(clashes)} use a prefix reserved for number "
            f"fragments ({', '.join(FRAGMENT_PREFIXES)}); rename them"
        )
    jobs: list[RenderJob] = []
    warnings: list[str] = []
    for language in languages:
        for prompt_id, prompt in prompts.items():
            text = prompt.text.get(language, "").strip()
            if not text:
                raise PromptError(f"prompts.{prompt_id}.{language}: no text to speak")
            jobs.append(RenderJob(language, prompt_id, text))
        if not fragments:
            continue
        table = FRAGMENTS.get(language)
        if table is None:
            warnings.append(f"no number fragments for language {language!r}: numbers, "
                            "customer and ticket numbers cannot be spoken in it")
            continue
        jobs += [RenderJob(language, fid, text, fragment=True) for fid, text in table.items()]
    if only is not None:
        known = {job.prompt_id for job in jobs}
        unknown = sorted(set(only) - known)
        if unknown:
            raise PromptError(f"--only: unknown prompt id(s): {', '.join(unknown)}")
        jobs = [job for job in jobs if job.prompt_id in only]
    return Plan(jobs, warnings)


def build_prompts(
    jobs: Sequence[RenderJob],
    sounds_dir: Path,
    *,
    tools: Tools | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    prune: bool = False,
) -> BuildReport:
    """Bring `sounds_dir` up to date with `jobs`; failures are reported, not raised.

    `prune` removes our own files (never an admin's) whose id is no longer planned: pass
    it for a full build, not for `--only`. Raises PromptError only when espeak-ng or sox is
    missing and something needs rendering, or a manifest is damaged.
    """
    started = time.monotonic()
    report = BuildReport(sounds_dir)
    sounds_dir.mkdir(parents=True, exist_ok=True)
    with _locked(sounds_dir / LOCK_NAME):
        manifests: dict[str, Manifest] = {}
        todo: list[RenderJob] = []
        done = 0

        def tick(job: RenderJob, outcome: Outcome) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, len(jobs), job, outcome)

        for job in jobs:
            manifest = manifests.get(job.language)
            if manifest is None:
                manifest = Manifest.load(language_folder(sounds_dir, job.language))
                manifests[job.language] = manifest
            outcome = _classify(job, manifest, report)
            if outcome is None:
                todo.append(job)
            else:
                tick(job, outcome)
        if todo:
            tools = tools or find_tools()
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futures: dict[Future[str], RenderJob] = {
                    pool.submit(_render_checked, job, manifests[job.language], tools): job
                    for job in todo
                }
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        digest = future.result()
                    except PromptError as error:
                        report.failed.append((job, str(error)))
                        tick(job, "failed")
                        continue
                    manifests[job.language].entries[job.prompt_id] = Entry(
                        job.key, digest, job.text)
                    report.rendered.append(job)
                    tick(job, "rendered")
        if prune:
            _prune(sounds_dir, jobs, manifests, report)
        for manifest in manifests.values():
            manifest.save()
    report.seconds = time.monotonic() - started
    return report


def language_folder(sounds_dir: Path, language: str) -> Path:
    return sounds_dir / language / SOUND_FOLDER


def _classify(job: RenderJob, manifest: Manifest, report: BuildReport) -> Outcome | None:
    """Decide without rendering: up to date, the admin's, or None (render it)."""
    admin = manifest.admin_files(job.prompt_id)
    if admin:
        # Drop our own file beside the admin's recording, so Asterisk cannot pick ours.
        if manifest.owns(job.prompt_id):
            ours = manifest.wav(job.prompt_id)
            ours.unlink()
            report.removed.append(ours)
        manifest.entries.pop(job.prompt_id, None)
        report.admin.append((job, admin))
        return "admin recording"
    entry = manifest.entries.get(job.prompt_id)
    if entry is not None and entry.key == job.key and manifest.owns(job.prompt_id):
        report.up_to_date.append(job)
        return "up to date"
    return None


def _render_checked(job: RenderJob, manifest: Manifest, tools: Tools) -> str:
    def no_admin_file() -> bool:
        # Checked again just before the rename: a recording dropped in during the build wins.
        return not manifest.admin_files(job.prompt_id)

    return render(job, manifest.wav(job.prompt_id), tools, may_replace=no_admin_file)


def _prune(
    sounds_dir: Path,
    jobs: Sequence[RenderJob],
    manifests: dict[str, Manifest],
    report: BuildReport,
) -> None:
    """Remove our files for ids (or whole languages) no longer in the plan."""
    planned = {(job.language, job.prompt_id) for job in jobs}
    for path in sorted(sounds_dir.glob(f"*/{SOUND_FOLDER}/{MANIFEST_NAME}")):
        language = path.parent.parent.name
        manifest = manifests.get(language) or Manifest.load(path.parent)
        manifests[language] = manifest
        for prompt_id in sorted(manifest.entries):
            if (language, prompt_id) in planned:
                continue
            if manifest.owns(prompt_id):
                manifest.wav(prompt_id).unlink()
                report.removed.append(manifest.wav(prompt_id))
            del manifest.entries[prompt_id]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
