"""The ``review`` command: parse options, call one core function, print the result.

Errors of the ReviewError family become ``Error: ...`` on stderr and exit status 1; click
reports usage errors with exit status 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from review_pipeline import __version__, layout
from review_pipeline.api import Review
from review_pipeline.files import write_atomic
from review_pipeline.formats.registry import NAMES as FORMAT_NAMES
from review_pipeline.model.effects import MEASURES, METHODS
from review_pipeline.model.errors import ReviewError, as_review_error
from review_pipeline.model.state import STAGES
from review_pipeline.protocol import SOURCE_KINDS

if TYPE_CHECKING:
    from tqdm import tqdm

    from review_pipeline.model.progress import Progress
    from review_pipeline.stages.dedup import Explanation
    from review_pipeline.stages.import_ import ImportResult
    from review_pipeline.stages.screen import Agreement

# Each command imports the stage it runs when it runs: the stages' libraries (pandas,
# matplotlib, rapidfuzz, openpyxl, sqlite-utils) take about a second to load, which --help,
# --version and `review makefile` (asked by make at every start) need not wait for.

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Group(click.Group):
    """Lists commands in workflow order and turns ReviewErrors into clean exits."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReviewError as exc:
            raise click.ClickException(str(exc)) from exc
        except (OSError, sqlite3.Error, RecursionError, MemoryError) as exc:
            error = as_review_error(exc)
            if error is None:
                raise
            raise click.ClickException(str(error)) from exc


pass_ctx = click.make_pass_decorator(Review)


def _override(field: str) -> Callable[[click.Context, click.Parameter, Path | None], None]:
    def callback(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
        # The group's callback has made the context before a command's options are parsed.
        obj = ctx.find_object(Review)
        if value is not None and obj is not None:
            setattr(obj, field, value)
    return callback


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--db and --protocol after the command name too (``review status --db x.db``)."""
    for name, field, help_text in (
            ("--protocol", "protocol_path", "The review protocol (overrides the global one)."),
            ("--db", "db_path", "The review database (overrides the global one).")):
        command = click.option(name, type=click.Path(dir_okay=False, path_type=Path),
                               expose_value=False, callback=_override(field),
                               help=help_text)(command)
    return command


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="review")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              default=layout.DB, envvar="REVIEW_DB", show_default=True,
              help="The review database (env REVIEW_DB).")
@click.option("--protocol", "protocol_path", type=click.Path(dir_okay=False, path_type=Path),
              default=layout.PROTOCOL, envvar="REVIEW_PROTOCOL", show_default=True,
              help="The review protocol (env REVIEW_PROTOCOL).")
@click.pass_context
def cli(ctx: click.Context, db_path: Path, protocol_path: Path) -> None:
    """Run a systematic review as code: fetch, import, dedup, screen, extract, prisma.

    Each command is one stage; `make all` runs them in order.

    \b
    Example:
        review --db data/review.db status
    """
    ctx.obj = Review(protocol=protocol_path, db=db_path,
                     on_wait=lambda note: click.echo(f"note: {note}", err=True))
    ctx.call_on_close(ctx.obj.close)


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


@cli.command(name="init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", default="", metavar="TEXT",
              help="The review's title [default: from the folder's name].")
def init_(folder: Path, title: str) -> None:
    """Start a new review in FOLDER: a commented protocol, a generic extraction form,
    READMEs and a Makefile whose targets are the stages. Then add the exports with
    `review import FILE --source NAME --add` and run `make all` in FOLDER.

    \b
    Example:
        review init statins-review --title "Statins for primary prevention"
        cd statins-review
        review import ~/Downloads/embase.ris --source embase --add
        make all
    """
    from review_pipeline.init import init_review

    written = init_review(folder, title)
    click.echo(f"init: a new review in {folder} ({len(written)} files):")
    _echo_lines([f"  {path.relative_to(folder)}" for path in written])
    click.echo(f"next: edit {folder / 'queries' / 'protocol.toml'}; then, in {folder}, "
               "`review import FILE --source NAME --add` for each export and `make all`")


@cli.command()
@click.option("--offline", is_flag=True, help="Do not contact PubMed: replay the kept raw "
              "responses of the last live search, or load the search's snapshot.")
@click.option("--live", is_flag=True, help="Search PubMed live, or fail (exit 1): never fall "
              "back to the kept responses or the snapshot.")
@click.option("--query", help="Search this instead of the protocol's query (live only; the "
              "protocol must have at most one search).")
@click.option("--base-url", envvar="REVIEW_EUTILS_URL", metavar="URL",
              help="E-utilities base URL (env REVIEW_EUTILS_URL)  [default: NCBI's].")
@click.option("--raw-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default=layout.RAW, show_default=True, help="Where raw responses are kept.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=200, show_default=True,
              metavar="N",
              help="PMIDs per EFetch request.")
@common_options
@pass_ctx
def fetch(obj: Review, offline: bool, live: bool, query: str | None, base_url: str | None,
          raw_dir: Path, batch_size: int) -> None:
    """Run the protocol's PubMed searches (none, one or several) and load the records.

    Searches PubMed live when NCBI_EMAIL is set (NCBI_API_KEY raises the rate limit from 3
    to 10 requests a second); searches over 9,999 hits are split by PMID ranges. Raw
    answers are kept under --raw-dir, and an interrupted fetch resumes where it stopped
    when run again. Offline, or when PubMed cannot be reached, it replays the raw responses
    kept from the last live search, or else loads the search's snapshot, and says which.
    Runs of searches the protocol no longer has are taken out of the review.

    \b
    Example:
        NCBI_EMAIL=you@example.org review fetch --live
        review fetch --offline
    """
    from review_pipeline.stages.fetch import LiveSettings

    if offline and live:
        raise click.UsageError("--offline and --live exclude each other")
    settings = LiveSettings(email=os.environ.get("NCBI_EMAIL", ""),
                            api_key=os.environ.get("NCBI_API_KEY", ""), batch_size=batch_size,
                            **({"base_url": base_url} if base_url else {}))
    with _progress("fetch", "record") as progress:
        summary = obj.fetch(offline=offline, live_only=live, live=settings, query=query,
                            raw_dir=raw_dir, on_progress=progress)
    if summary.removed_runs:
        click.echo(f"fetch: took out {summary.removed_runs} search runs the protocol no longer "
                   f"has, with {summary.removed_records} records only they held")
    if not summary.searches:
        click.echo("fetch: the protocol has no PubMed search; nothing to fetch")
    for number, result in enumerate(summary.searches, 1):
        _echo_lines(result.messages)
        label = f"search {number}, " if len(summary.searches) > 1 else ""
        click.echo(f"fetch ({label}{result.mode}): {result.records} records, "
                   f"{result.new_records} new")
    if query:
        click.echo(f"note: this search is not in {obj.protocol_path}: the next `review fetch` "
                   "(and `make all`) takes its run out again. To keep it, add it there under "
                   "[[searches]]")


@cli.command(name="import")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--source", metavar="NAME",
              help="Name of the source the file comes from (e.g. embase).")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="auto",
              show_default=True, help="The file's format; auto reads it from the content.")
@click.option("--add", is_flag=True, help="Also copy FILE into the review's imports/ and list "
              "it under [[sources]] in the protocol, so that `make all` keeps it.")
@click.option("--kind", type=click.Choice(SOURCE_KINDS), help="With --add, for a new source: "
              "database or register (PRISMA's databases column), or an other method "
              "[default: from the name, else database].")
@click.option("--label", metavar="TEXT",
              help="With --add, for a new source: its name in the PRISMA flow "
              "[default: from the name, e.g. embase gives Embase].")
@click.option("--skip-bad", is_flag=True, help="Import the records that can be read and write "
              "the others to a quarantine report (next to the database), instead of stopping.")
@common_options
@pass_ctx
def import_(obj: Review, file: Path | None, source: str | None, fmt: str, add: bool,
            kind: str | None, label: str | None, skip_bad: bool) -> None:
    """Import export files from other databases and sources.

    With no FILE, makes the review hold exactly the files listed under [[sources]] in the
    protocol: new ones are imported, and the records of files no longer listed (or listed
    in another version) are taken out. With a FILE, imports it as records of --source; with
    --add, first copies it into imports/ and lists it in the protocol. A file imported
    before is skipped. A record that cannot be read stops the import, naming file, line and
    field, unless --skip-bad.

    \b
    Example:
        review import
        review import ~/Downloads/embase.ris --source embase --add
        review import scopus.csv --source scopus --add --label "Scopus (Elsevier)"
        review import refs.ris --source handsearch --add --kind citation_searching
    """
    from review_pipeline.files import display_path

    if file is None:
        if source or add:
            raise click.UsageError("--source and --add go with a FILE; without one the "
                                   "protocol's [[sources]] are imported")
        summary = obj.import_(on_file=_echo_import, skip_bad=skip_bad)
        for removed, replaced in summary.removed_files:
            click.echo(f"import: {removed} " + (
                "changed since it was imported; the new version replaces the old" if replaced
                else "is not listed in the protocol (any more); it is taken out"))
        if summary.removed_files:
            click.echo(f"import: {summary.removed_records} records left the review; the files "
                       "still listed hold the others")
        if not summary.files:
            click.echo("import: the protocol lists no export files")
        return
    if not source:
        raise click.UsageError("give --source NAME for the file (e.g. --source embase)")
    if (kind or label) and not add:
        raise click.UsageError("--kind and --label go with --add")
    if add:
        added = obj.add_source(file, source, kind=kind, label=label, fmt=fmt)
        if added.copied:
            click.echo(f"import: copied {file} to {display_path(added.file)}")
        listed = "listed" if added.listed else "already listed"
        click.echo(f"import: {listed} {display_path(added.file)} under source '{added.name}' "
                   f"({added.label}, {added.kind}) in {obj.protocol_path}")
        file = added.file
    _echo_import(obj.import_file(file, source, fmt=fmt, skip_bad=skip_bad))
    if not add and not obj.listed(file, source):
        click.echo(f"note: {file} is not listed in {obj.protocol_path}: the next `review "
                   "import` (and `make all`) takes its records out again. To keep it: review "
                   f"import {file} --source {source} --add")


def _echo_import(result: ImportResult) -> None:
    if result.already_imported:
        click.echo(f"import: {result.file} ({result.source}) was imported before; skipped")
    else:
        click.echo(f"import: {result.file} ({result.source}, {result.format}): "
                   f"{result.records} records, {result.new_records} new")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.skipped:
        click.echo(f"import: {result.skipped} records of {result.file} could not be read and "
                   f"were NOT imported; see {result.quarantine}", err=True)


@cli.command(name="dedup")
@click.option("--prefer", default="pubmed", show_default=True, metavar="SOURCES",
              help="Comma-separated sources whose record a cluster keeps first.")
@click.option("--preprints", type=click.Choice(["same", "different"]), default="same",
              show_default=True,
              help="Whether a preprint and its published version are one publication "
                   "(linked, the published one kept) or two.")
@click.option("--errata", type=click.Choice(["same", "different"]), default="different",
              show_default=True,
              help="Whether an erratum (corrigendum, correction) and the article it corrects "
                   "are one publication or two.")
@click.option("--abstracts", type=click.Choice(["same", "different"]), default="different",
              show_default=True,
              help="Whether a meeting abstract and the journal article it became are one "
                   "publication or two.")
@click.option("--review-versions", type=click.Choice(["same", "different"]),
              default="different", show_default=True,
              help="Whether versions of one review published in different years are one "
                   "publication or two.")
@click.option("--decisions", type=click.Path(dir_okay=False, path_type=Path),
              default=layout.DEDUP_DECISIONS, show_default=True,
              help="A reviewer's same/different pairs, which override the rules.")
@click.option("--queue", type=click.Path(dir_okay=False, path_type=Path),
              default=layout.DEDUP_QUEUE, show_default=True,
              help="The uncertain pairs, rewritten on each run; decisions written in its "
                   "decision column are kept and override the rules.")
@click.option("--overlap", type=click.Path(dir_okay=False, path_type=Path),
              default=layout.OVERLAP, show_default=True,
              help="Where to write the table of how the sources overlap.")
@click.option("--explain", metavar="RECORD_ID",
              help="Say which records RECORD_ID was merged with, or kept apart from, and why; "
                   "change nothing.")
@click.option("--split", metavar="RECORD_ID",
              help="Take RECORD_ID out of its cluster (a 'different' row against each other "
                   "member goes into the decisions file), then run dedup.")
@common_options
@pass_ctx
def dedup_(obj: Review, prefer: str, preprints: str, errata: str, abstracts: str,
           review_versions: str, decisions: Path, queue: Path, overlap: Path,
           explain: str | None, split: str | None) -> None:
    """Find duplicate records and link them; nothing is deleted.

    Pairs sharing a PMID, a DOI, the start or end of the title, or a first page are
    compared field by field; duplicate rules link them and vetoes keep them apart (a
    meeting abstract and its article, two DOIs, Part I and Part II, conflicting
    citations). Each cluster keeps one record. Uncertain pairs go to the queue, where a
    reviewer writes same or different; those rows, and the decisions file
    (record_id, other_record_id, decision same|different, note), win over the rules.
    A re-run compares only the pairs that involve records new since the last run.
    --preprints, --errata, --abstracts and --review-versions set which related items
    count as one publication; the search log names the choice.

    \b
    Example:
        review dedup --prefer pubmed,embase
        review dedup --preprints different
        review dedup --errata same --abstracts same
        review dedup --explain embase:L2003155667
        review dedup --split embase:L2003155667
    """
    if explain:
        _explain(obj.explain(explain, decisions=decisions, queue=queue))
        return
    if split:
        others = obj.split(split, decisions=decisions)
        click.echo(f"dedup: {split} split from {', '.join(others) or 'nothing (it stands alone)'}"
                   f"; the rows are in {decisions}")
    preference = tuple(p.strip() for p in prefer.split(",") if p.strip())
    with _progress("dedup", "cluster") as progress:
        from review_pipeline.stages.dedup import Policy

        policy = Policy(preprints=preprints == "same", errata=errata == "same",
                        abstracts=abstracts == "same", reviews=review_versions == "same")
        result = obj.dedup(preference=preference, policy=policy,
                           decisions=decisions, queue=queue, overlap=overlap,
                           on_progress=progress)
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(result.by_rule.items())) or "none"
    fresh = "" if result.compared == result.records else (
        f"; compared the pairs of {result.compared} new records, kept the other verdicts"
        if result.compared else "; no new records, the verdicts of the last run kept")
    click.echo(f"dedup: {result.records} records in {result.clusters} clusters{fresh}; "
               f"{result.duplicates} duplicates (by rule: {rules}); {result.changed} changed")
    if result.queued:
        click.echo(f"dedup: {result.queued} uncertain pairs wait in {queue}: write same or "
                   "different in their decision column, then run dedup again")
    click.echo(f"dedup: how the sources overlap is in {overlap}")


def _explain(found: Explanation) -> None:
    others = [m for m in found.members if m != found.record_id]
    click.echo(f"{found.record_id}: cluster {found.cluster_id}, which keeps {found.kept}")
    click.echo(f"  merged with: {', '.join(others) or 'nothing'}")
    for link in found.links:
        click.echo(f"  {link.verdict:<9} {link.other}  {link.rule}: {link.why} "
                   f"(title {link.title:.0f}, authors {link.authors:.0f})")
    for line in found.decisions:
        click.echo(f"  reviewer  {line}")


@cli.group(name="screen", cls=_Group, invoke_without_command=True)
@click.option("--decisions", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default=layout.SCREENING, show_default=True,
              help="Folder of reviewers' sheets <stage>-<reviewer>.csv and resolutions.csv.")
@common_options
@pass_ctx
@click.pass_context
def screen_(ctx: click.Context, obj: Review, decisions: Path) -> None:
    """Apply the protocol's eligibility rules, the reviewers' decisions and the resolutions
    of their conflicts; with a subcommand, work on the sheets instead.

    \b
    Example:
        review screen
        review screen sheet --stage ta --reviewer alice
        review screen conflicts
        review screen agreement
    """
    ctx.meta["screening_folder"] = decisions
    if ctx.invoked_subcommand:
        return
    _given_folder_exists(ctx, "decisions", decisions)
    with _progress("screen", "record") as progress:
        result = obj.screen(folder=decisions, on_progress=progress)
    states = ", ".join(f"{k} {v}" for k, v in result.states.items())
    click.echo(f"screen: {result.decisions} decisions, {result.resolutions} resolutions; "
               f"{result.changed} records moved")
    click.echo(f"  states: {states}")
    a = result.awaiting
    click.echo(f"  awaiting: title/abstract {a['title_abstract']} (conflicts "
               f"{a['title_abstract_conflicts']}), full text {a['full_text']} (conflicts "
               f"{a['full_text_conflicts']})")
    for pair in obj.agreement():
        click.echo(f"  {_kappa_line(pair)}")
    if result.stop:
        from review_pipeline.stages.screen.stopping import since_text

        stop = result.stop
        click.echo(f"  stop rule: {stop.described}")
        click.echo(f"    {stop.screened} of {stop.total} screened, {stop.relevant} relevant; "
                   + (f"met since {since_text(stop.met_since, stop.step)}" if stop.met
                      else stop.distance))


def _given_folder_exists(ctx: click.Context, name: str, folder: Path) -> None:
    """A folder given on the command line must exist: read as empty, a mistyped one would
    take every decision out of the review. The default one may not exist yet."""
    given = ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    if given and not folder.is_dir():
        raise click.BadParameter(f"no folder {folder}", ctx=ctx, param_hint=f"--{name}")


def _kappa_line(pair: Agreement) -> str:
    from review_pipeline.stages.screen import landis_koch

    kappa = "undefined" if pair.kappa is None else f"{pair.kappa:.2f}"
    return (f"{STAGES[pair.stage]}: kappa {kappa} ({landis_koch(pair.kappa)}) for "
            f"{' and '.join(pair.reviewers)} on {pair.records} records")


@screen_.command(name="sheet")
@click.option("--stage", type=click.Choice(list(STAGES)), required=True,
              help="ta (title/abstract) or ft (full text).")
@click.option("--reviewer", required=True, metavar="NAME",
              help="Lower-case name, as in the file name.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True, help="The sheet's format; keep one per reviewer and stage.")
@common_options
@pass_ctx
@click.pass_context
def screen_sheet(ctx: click.Context, obj: Review, stage: str, reviewer: str,
                 fmt: str) -> None:
    """Add the records awaiting a reviewer to their sheet (made if missing); rows already in
    it are kept as they are. Fill in decision, reason and note, then run `make screen`.

    \b
    Example:
        review screen sheet --stage ta --reviewer alice
        review screen sheet --stage ft --reviewer bob --format xlsx
    """
    result = obj.screening_sheet(stage, reviewer, folder=ctx.meta["screening_folder"], fmt=fmt)
    click.echo(f"sheet: {result.path}: {result.added} records added to decide, "
               f"{result.kept} rows kept")


@screen_.command(name="conflicts")
@click.option("--stage", type=click.Choice(list(STAGES)), help="Only this stage.")
@click.option("--add-to-resolutions", is_flag=True,
              help=f"Append the unresolved ones to {layout.RESOLUTIONS} as rows to decide.")
@common_options
@pass_ctx
@click.pass_context
def screen_conflicts(ctx: click.Context, obj: Review, stage: str | None,
                     add_to_resolutions: bool) -> None:
    """List the records reviewers disagree on (as of the last `review screen`), and how
    each was resolved.

    \b
    Example:
        review screen conflicts --stage ta
        review screen conflicts --add-to-resolutions
    """
    found = obj.conflicts(stage)
    for c in found:
        votes = "; ".join(f"{who} {d}{f' ({r})' if r else ''}" for who, d, r in c.decisions)
        status = f"resolved: {c.resolution}" if c.resolution else "unresolved"
        click.echo(f"{c.stage}  {c.record_id}  {votes}  [{status}]  {c.title[:70]}")
    unresolved = sum(1 for c in found if not c.resolution)
    click.echo(f"conflicts: {len(found)}, unresolved {unresolved}")
    if add_to_resolutions:
        folder = ctx.meta["screening_folder"]
        added = obj.add_conflicts_to_resolutions(folder=folder)
        click.echo(f"  added {added} rows to {folder / layout.RESOLUTIONS}")


@screen_.command(name="agreement")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@common_options
@pass_ctx
def screen_agreement(obj: Review, as_json: bool) -> None:
    """Cohen's kappa per stage and pair of reviewers, with its 2x2 counts ("maybe" counts
    as include; full-text "not_retrieved" is left out; resolutions do not change it).

    \b
    Example:
        review screen agreement
    """
    pairs = obj.agreement()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in pairs], indent=2))
        return
    if not pairs:
        click.echo("agreement: no stage has two reviewers' decisions yet")
    for p in pairs:
        first, second = p.reviewers
        click.echo(_kappa_line(p))
        click.echo(f"  both include {p.both_include}, both exclude {p.both_exclude}, "
                   f"only {first} includes {p.first_only}, only {second} includes "
                   f"{p.second_only}; observed {p.observed:.3f}, by chance {p.expected:.3f}")


@cli.group(name="extract", cls=_Group, invoke_without_command=True)
@click.option("--tables", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default=layout.EXTRACTION, show_default=True,
              help="Folder of fields.csv, consensus.csv and one folder per reviewer.")
@common_options
@pass_ctx
@click.pass_context
def extract_(ctx: click.Context, obj: Review, tables: Path) -> None:
    """Validate every reviewer's extraction sheets and load them, with the final tables
    merged from the copies and consensus.csv; nothing is loaded if any cell is wrong.

    \b
    Example:
        review extract
        review extract sheet --reviewer alice
        review extract compare
        review extract history 25401269
    """

    ctx.meta["extraction_folder"] = tables
    if ctx.invoked_subcommand:
        return
    _given_folder_exists(ctx, "tables", tables)
    result = obj.extract(folder=tables)
    listed = ", ".join(f"{t} {n}" for t, n in result.tables.items()) or "no rows"
    copies = ", ".join(f"{who} {n}" for who, n in result.copies.items()) or "none"
    click.echo(f"extract: {result.studies} studies; final rows: {listed}")
    click.echo(f"  reviewers' rows: {copies}; {result.changed_cells} cells changed "
               f"(audit: {tables / layout.AUDIT})")
    if result.waiting:
        click.echo(f"  {result.waiting} study tables wait for another reviewer")
    if result.disagreements:
        click.echo(f"  {result.disagreements} cells differ between reviewers, "
                   f"{result.unresolved} not yet decided in {tables / layout.CONSENSUS} "
                   "(review extract compare)")


@extract_.command(name="sheet")
@click.option("--reviewer", required=True, metavar="NAME",
              help="Lower-case name, as in the folder name.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True, help="The sheets' format; keep one per reviewer and table.")
@common_options
@pass_ctx
@click.pass_context
def extract_sheet(ctx: click.Context, obj: Review, reviewer: str, fmt: str) -> None:
    """Give a reviewer one sheet per table, pre-filled with the included studies they do not
    have yet; rows already there are kept. Fill them in, then run `make extract`.

    \b
    Example:
        review extract sheet --reviewer alice
        review extract sheet --reviewer bob --format xlsx
    """

    for r in obj.extraction_sheets(reviewer, folder=ctx.meta["extraction_folder"], fmt=fmt):
        click.echo(f"sheet: {r.path}: {r.added} rows added, {r.kept} rows kept")


@extract_.command(name="compare")
@click.option("--add-to-consensus", is_flag=True,
              help=f"Append the undecided cells to {layout.CONSENSUS} as rows to decide.")
@common_options
@pass_ctx
@click.pass_context
def extract_compare(ctx: click.Context, obj: Review, add_to_consensus: bool) -> None:
    """List every cell where reviewers' copies differ (as of the last `review extract`) and
    the consensus value, if decided; then the study tables still waiting for a reviewer.

    \b
    Example:
        review extract compare
        review extract compare --add-to-consensus
    """
    needed = obj.protocol().extraction.reviewers

    merged = obj.compare()
    for d in merged.disagreements:
        values = "; ".join(f"{who} {v or '(empty)'}" for who, v in d.values.items())
        status = "undecided" if d.decided is None else f"decided: {d.decided or 'NR'}"
        row = f" [{d.row}]" if d.row else ""
        click.echo(f"{d.table}  {d.record_id}{row}  {d.field}: {values}  [{status}]")
    for table, record_id, who in merged.waiting:
        click.echo(f"{table}  {record_id}  waiting: filled by {', '.join(who)} "
                   f"({len(who)} of {needed})")
    undecided = sum(d.decided is None for d in merged.disagreements)
    click.echo(f"compare: {len(merged.disagreements)} cells differ, {undecided} undecided; "
               f"{len(merged.waiting)} study tables waiting")
    if add_to_consensus:
        folder = ctx.meta["extraction_folder"]
        added = obj.add_to_consensus(folder=folder)
        click.echo(f"  added {added} rows to {folder / layout.CONSENSUS}")


@extract_.command(name="history")
@click.argument("study")
@common_options
@pass_ctx
def extract_history(obj: Review, study: str) -> None:
    """Every change to a study's extraction cells: when, who, which cell, old and new value
    and the file it came from (from the append-only audit log).

    \b
    Example:
        review extract history pubmed:25401269
        review extract history 25401269
    """
    record_id, trail = obj.history(study)
    click.echo(f"{record_id}: {len(trail)} changes")
    for t in trail:
        row = f" [{t['row']}]" if t["row"] else ""
        source = f"{t['file']}, line {t['line']}" if t["file"] else "row removed"
        click.echo(f"{t['at']}  {t['actor']:<10} {t['entity']}{row}.{t['field']}: "
                   f"{t['old'] or '(empty)'} -> {t['new'] or '(empty)'}  ({source})")


@cli.command(name="synthesis")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default=layout.REPORTS, show_default=True,
              help="Where to write synthesis.json and forest/.")
@common_options
@pass_ctx
def synthesis_(obj: Review, out_dir: Path) -> None:
    """Pool each outcome per treatment from the final extraction tables, as the protocol's
    [synthesis] section says: proportions of evaluable patients, one study per cohort;
    write synthesis.json and a forest plot (SVG and PNG) per analysis in forest/.

    \b
    Example:
        review synthesis --out-dir reports
    """
    result = obj.synthesis(out=out_dir)
    click.echo(f"synthesis: {result.analyses} outcome-treatment pairs, {result.pooled} pooled; "
               f"wrote {result.path} and {len(result.figures)} figure files")
    for failed in result.failed:
        click.echo(f"  not fitted: {failed}", err=True)


@cli.command(name="prisma")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default=layout.REPORTS, show_default=True, help="Where to write the flow.")
@common_options
@pass_ctx
def prisma_(obj: Review, out_dir: Path) -> None:
    """Derive the PRISMA 2020 flow from the data, check it, and write prisma.json,
    prisma.csv (the PRISMA2020 template, filled), prisma.md, the diagram (prisma.svg,
    prisma.png) and the search log (search_log.md).

    \b
    Example:
        review prisma --out-dir reports
    """
    result = obj.prisma(out=out_dir)
    c = result.counts
    click.echo(f"prisma: {c.database_results + c.register_results} identified, "
               f"{c.duplicates} duplicates, "
               f"{c.records_screened} screened, {c.new_studies} studies included "
               f"({c.new_reports} reports); wrote "
               + ", ".join(str(f) for f in result.files))
    if c.provisional:
        click.echo("  provisional: some records still await a decision (see review status)")


@cli.command(name="report")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              default=layout.REPORTS, show_default=True, help="Where to write index.html.")
@click.option("--pdf", is_flag=True, help="Also print the page to index.pdf (needs Chromium "
              "or Chrome).")
@common_options
@pass_ctx
def report_(obj: Review, out_dir: Path, pdf: bool) -> None:
    """Write the review as one self-contained HTML page; every table in it can be saved as
    CSV, and --pdf prints it.

    \b
    Example:
        review report --out-dir reports --pdf
    """
    page = obj.report(out=out_dir, pdf=pdf)
    click.echo(f"report: wrote {page}" + (f" and {page.with_suffix('.pdf')}" if pdf else ""))


@cli.command(name="meta")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--measure", type=click.Choice(list(MEASURES), case_sensitive=False),
              help="PLO, PFT, PAS or PR for proportions; RR, OR or RD for two arms; GEN for "
              "estimates with SE [default: PLO, RR or GEN, by the columns].")
@click.option("--method", type=click.Choice(list(METHODS), case_sensitive=False),
              default="REML", show_default=True,
              help="Tau-squared estimator (REML, DL, PM, ML), EE for equal effects, or GLMM "
              "(binomial-normal, proportions on the logit scale).")
@click.option("--by", metavar="COLUMN", help="Pool within the groups of COLUMN too, and test "
              "the differences between them.")
@click.option("--knha", is_flag=True, help="Hartung-Knapp confidence intervals (t "
              "distribution) instead of Wald intervals.")
@click.option("--ratio", is_flag=True, help="GEN: the estimates (and ci_low, ci_high) are "
              "ratios, pooled as logarithms; se is that of the logarithm.")
@click.option("--forest", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Draw the forest plot (SVG, or PNG for a .png name).")
@click.option("--funnel", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Draw the funnel plot (10 or more studies).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def meta_(file: Path, measure: str | None, method: str, by: str | None, knha: bool,
          ratio: bool, forest: Path | None, funnel: Path | None, as_json: bool) -> None:
    """Meta-analyse the studies of a plain CSV, as R's metafor would: no review needed.

    Columns: study,events,total (proportions), study,events_1,total_1,events_2,total_2 (two
    arms), or study,estimate,se (or estimate,ci_low,ci_high); any other column may group
    them (--by). Studies with a zero cell get 1/2 added where the measure needs it.

    \b
    Example:
        review meta responses.csv --measure PLO --method REML --forest forest.svg
        review meta trials.csv --measure RR --by allocation --json
    """
    from review_pipeline.api import meta
    from review_pipeline.stages.synthesis.text import summary

    analysis = meta(file, measure=measure, method=method, knha=knha, by=by, ratio=ratio,
                    forest=forest, funnel=funnel)
    if as_json:
        click.echo(json.dumps(analysis.as_dict(), indent=2))
    else:
        _echo_lines(summary(analysis))
    for out in (forest, funnel):
        if out:
            click.echo(f"meta: wrote {out}", err=as_json)


@cli.command(name="simulate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prior", "priors", multiple=True, metavar="ID", help="A record known at the "
              "start (repeatable), as a reviewer's first decisions; without any, screening "
              "starts in an order drawn from the seed until the first include.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the model and of the order ties fall in.")
@click.option("--order-out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write every record id in the order screened (CSV, one column record_id).")
@click.option("--curve", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Where to draw the recall curve (SVG, or PNG for a .png name) "
              "[default: FILE's name with -recall.svg].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def simulate_(file: Path, priors: tuple[str, ...], seed: int, order_out: Path | None,
              curve: Path | None, as_json: bool) -> None:
    """Replay a fully labelled set in prioritised order and measure how early the includes
    come: WSS@95, recall at 10% screened, average time to discovery. No review needed.

    Columns: record_id, title, abstract, keywords (optional, split at ;) and label_included
    (1/0); ASReview's names (id, openalex_id, pmid, included, label) are read too.

    \b
    Example:
        review simulate labelled.csv --prior 17 --prior 942 --seed 1 --order-out order.csv
    """
    from review_pipeline.api import simulate

    curve = curve or file.with_name(f"{file.stem}-recall.svg")
    with _progress("simulate", "record") as progress:
        run = simulate(file, priors=priors, seed=seed, order_out=order_out, curve=curve,
                       on_progress=progress)
    m = run.metrics
    if as_json:
        click.echo(json.dumps({"records": run.records, "includes": run.includes,
                               "priors": run.priors, "seed": seed, "wss95": m.wss95,
                               "recall10": m.recall10, "atd": m.atd, "updates": run.updates,
                               "seconds": run.seconds}, indent=2))
    else:
        _echo_lines([f"simulate: {run.records:,} records, {run.includes:,} includes, "
                     f"{len(run.priors)} priors, seed {seed}",
                     f"  WSS@95      {m.wss95:.3f}  (work saved over random order at 95% "
                     "recall)",
                     f"  recall@10%  {m.recall10:.3f}  (includes found in the first 10%)",
                     f"  ATD         {m.atd:.3f}  (average position of an include, as a share)",
                     f"  {run.updates} model updates in {run.seconds:.1f} s"])
    for out in (order_out, curve):
        if out:
            click.echo(f"simulate: wrote {out}", err=as_json)


@cli.command(name="serve")
@click.option("--reviewer", metavar="NAME", help="Who screens and extracts [default: the "
              "only reviewer with a sheet at the stage].")
@click.option("--stage", type=click.Choice(["ta", "ft"]), default="ta", show_default=True,
              help="Title/abstract or full text.")
@click.option("--port", type=int, default=8770, show_default=True,
              help="The port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but this machine's own lets others "
              "on the network reach the review.")
@common_options
@pass_ctx
def serve_(obj: Review, reviewer: str | None, stage: str, port: int, host: str) -> None:
    """Screen and extract in the browser: one record at a time, keyboard first, in the
    prioritised order; every decision goes at once into your own sheet, as if typed there.

    Keys: i include, e exclude (at full text, then the reason's number), m maybe, u undo,
    arrows previous/next, ? help. Ctrl-C stops the server.

    \b
    Example:
        review serve --reviewer alice --stage ta
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine there "
                   "can read the review's records and decisions (changes still need the "
                   "page's session token)", err=True)
    app = obj.serve(reviewer=reviewer, stage=stage, host=host, port=port)
    served = app.served
    click.echo(f"serve: {app.address} ({served.reviewer}, "
               f"{'title/abstract' if stage == 'ta' else 'full text'}; Ctrl-C stops)")
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.server_close()
        click.echo("serve: stopped")


@cli.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@common_options
@pass_ctx
def status_(obj: Review, as_json: bool) -> None:
    """Show records per source, duplicates, states, pending decisions and PRISMA counts.

    \b
    Example:
        review status --json
    """
    from review_pipeline.views.status import render_status

    report = obj.status()
    click.echo(json.dumps(report, indent=2) if as_json else render_status(report))


@cli.group(cls=_Group)
@common_options
def export() -> None:
    """Export data from the review database.

    \b
    Example:
        review export records --format csv --out records.csv
    """


@export.command(name="records")
@click.option("--format", "fmt", type=click.Choice(["csv", "ris"]), default="csv",
              show_default=True, help="csv: one row per record with cluster and state; ris: "
              "the records themselves, for a reference manager or another review.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@common_options
@pass_ctx
def export_records(obj: Review, fmt: str, out: Path | None) -> None:
    """Every record, duplicates included (CSV: with its cluster and state).

    \b
    Example:
        review export records --format csv --out records.csv
        review export records --format ris --out records.ris
    """
    text, count = obj.export(fmt)
    if out:
        write_atomic(out, text.encode("utf-8"))
        click.echo(f"export: wrote {count} records to {out} ({fmt})")
    else:
        click.echo(text, nl=False)


@cli.command(name="makefile")
def makefile_() -> None:
    """Print the path of the stages' make rules, which a review's Makefile includes (the one
    `review init` writes does).

    \b
    Example:
        review makefile
    """
    from review_pipeline.init import MAKEFILE

    click.echo(str(MAKEFILE))


class _progress:
    """A tqdm bar driven by a core function's ``on_progress(done, total)`` callback."""

    def __init__(self, desc: str, unit: str) -> None:
        self.desc, self.unit = desc, unit
        self.bar: tqdm[Any] | None = None

    def __enter__(self) -> Progress:
        return self.update

    def update(self, done: int, total: int, note: str = "") -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, disable=None)
        if note:
            self.bar.set_postfix_str(note, refresh=False)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
