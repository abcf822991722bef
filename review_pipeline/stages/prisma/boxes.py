"""The boxes of the PRISMA 2020 flow diagram, with their wording and counts.

One model of the diagram serves every rendering (the drawing, the Markdown, the report), so
a box says the same thing wherever it is shown. The wording follows the PRISMA 2020
templates (new or updated review; databases and registers, and other methods when such
records exist); lines the templates lack say what is still awaited, so that each box's
arithmetic can be followed while a review is in progress.
"""

from __future__ import annotations

from dataclasses import dataclass

from review_pipeline.stages.prisma.flow import OTHER_LABELS, Branch, PrismaCounts

PHASES = ("identification", "screening", "included")
COLUMNS = ("previous", "databases", "other")
"""Left to right: the previous version (updated reviews), databases and registers, other
methods. Each of the last two has a main column and a side column for what leaves the flow."""


@dataclass(frozen=True)
class Box:
    key: str
    """Stable name (``svg`` group id ``box-<key>``)."""
    column: str
    side: bool
    """In the side column: records or reports that leave the flow here."""
    level: int
    """Row of the diagram, top to bottom."""
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    boxes: tuple[Box, ...]
    arrows: tuple[tuple[str, str], ...]
    headings: dict[str, str]
    """Column heading by column, for the columns present."""
    phases: dict[str, tuple[int, int]]
    """First and last level of each phase."""
    notes: tuple[str, ...]
    """Footnotes."""
    warning: str = ""
    """What is still awaited, when the flow is provisional."""

    def box(self, key: str) -> Box:
        return next(b for b in self.boxes if b.key == key)


def n(value: int) -> str:
    return f"(n = {value:,})"


def flow(c: PrismaCounts, notice: str = "") -> Flow:
    """The diagram of ``c``: its boxes, arrows, headings, phases and footnotes (the last of
    them ``notice``, when the review is a draft or an example)."""
    other = bool(sum(c.other_sources.values()))
    boxes = [*_databases(c), *_included(c)]
    arrows = [("identified", "screened"), ("identified", "removed"), ("screened", "excluded"),
              ("screened", "sought"), ("sought", "not_retrieved"), ("sought", "assessed"),
              ("assessed", "reports_excluded"), ("assessed", "included")]
    headings = {"databases": "Identification of studies via databases and registers"}
    if other:
        boxes += _other(c)
        arrows += [("other_identified", "other_sought"), ("other_sought", "other_not_retrieved"),
                   ("other_sought", "other_assessed"),
                   ("other_assessed", "other_reports_excluded"), ("other_assessed", "included")]
        headings["other"] = "Identification of studies via other methods"
    if c.updated:
        boxes += [
            Box("previous", "previous", False, 0, "Studies included in previous version of "
                f"review {n(c.previous_studies or 0)}", (
                    "Reports of studies included in previous version of review "
                    f"{n(c.previous_reports or 0)}",)),
            Box("total", "databases", False, 5, f"Total studies included in review "
                f"{n(c.total_studies)}", (f"Reports of total included studies "
                                          f"{n(c.total_reports)}",)),
        ]
        arrows += [("previous", "total"), ("included", "total")]
        headings["previous"] = "Previous studies"
    notes = (
        "* Records identified from each database and register are listed in the box.",
        f"** Records excluded by a person {n(c.records_excluded_human)}; by automation "
        f"tools {n(c.records_excluded_automation)}"
        + (f", of which never screened once the stop rule was met "
           f"{n(c.records_stopped)}: {c.stop_rule}." if c.records_stopped else "."),
        *((notice,) if notice else ()),
    )
    return Flow(boxes=tuple(boxes), arrows=tuple(arrows),
                headings={k: headings[k] for k in COLUMNS if k in headings},
                phases={"identification": (0, 0), "screening": (1, 3),
                        "included": (4, 5 if c.updated else 4)},
                notes=notes,
                warning="Provisional: " + "; ".join(_awaiting(c)) + "." if c.provisional else "")


def _databases(c: PrismaCounts) -> list[Box]:
    identified = [f"Databases {n(c.database_results)}",
                  *[f"    {label} {n(k)}" for label, k in c.databases]]
    if c.registers or not c.databases:
        identified += [f"Registers {n(c.register_results)}",
                       *[f"    {label} {n(k)}" for label, k in c.registers]]
    if c.not_yet_screened_dbr:
        identified.append(f"Not yet placed by the screen stage {n(c.not_yet_screened_dbr)}")
    screened = ([f"Awaiting a decision {n(c.awaiting_screening)}"]
                if c.awaiting_screening else [])
    return [
        Box("identified", "databases", False, 0, "Records identified from*:",
            tuple(identified)),
        Box("removed", "databases", True, 0, "Records removed before screening:", (
            f"Duplicate records removed {n(c.duplicates)}",
            f"Records marked as ineligible by automation tools {n(c.excluded_automatic)}",
            f"Records removed for other reasons {n(c.excluded_other)}")),
        Box("screened", "databases", False, 1, f"Records screened {n(c.records_screened)}",
            tuple(screened)),
        Box("excluded", "databases", True, 1, f"Records excluded** {n(c.records_excluded)}"),
        *_full_text(c.dbr, "", "databases"),
    ]


def _full_text(b: Branch, prefix: str, column: str) -> list[Box]:
    sought = ([f"Awaiting retrieval {n(b.awaiting_retrieval)}"]
              if b.awaiting_retrieval else [])
    assessed = ([f"Awaiting a decision {n(b.awaiting_assessment)}"]
                if b.awaiting_assessment else [])
    excluded = sum(k for _, _, k in b.excluded)
    return [
        Box(f"{prefix}sought", column, False, 2, f"Reports sought for retrieval {n(b.sought)}",
            tuple(sought)),
        Box(f"{prefix}not_retrieved", column, True, 2,
            f"Reports not retrieved {n(b.not_retrieved)}"),
        Box(f"{prefix}assessed", column, False, 3,
            f"Reports assessed for eligibility {n(b.assessed)}", tuple(assessed)),
        Box(f"{prefix}reports_excluded", column, True, 3,
            f"Reports excluded {n(excluded)}" + (":" if b.excluded else ""),
            tuple(f"{label} {n(k)}" for _, label, k in b.excluded)),
    ]


def _other(c: PrismaCounts) -> list[Box]:
    found = [f"{label} {n(c.other_sources[key])}" for key, label in OTHER_LABELS
             if c.other_sources.get(key)]
    if c.other_already_identified:
        found.append("Of these, already identified via databases and registers "
                     f"{n(c.other_already_identified)}")
    if c.not_yet_screened_other:
        found.append(f"Not yet placed by the screen stage {n(c.not_yet_screened_other)}")
    return [Box("other_identified", "other", False, 0, "Records identified from:",
                tuple(found)), *_full_text(c.other, "other_", "other")]


def _included(c: PrismaCounts) -> list[Box]:
    new = "New studies" if c.updated else "Studies"
    reports = "Reports of new included studies" if c.updated else "Reports of included studies"
    return [Box("included", "databases", False, 4, f"{new} included in review "
                f"{n(c.new_studies)}", (f"{reports} {n(c.new_reports)}",))]


def _awaiting(c: PrismaCounts) -> list[str]:
    waiting = [
        (c.not_yet_screened, "not yet placed by the screen stage"),
        (c.awaiting_screening, "awaiting a title/abstract decision"),
        (c.dbr.awaiting_retrieval + c.other.awaiting_retrieval, "awaiting retrieval"),
        (c.dbr.awaiting_assessment + c.other.awaiting_assessment,
         "awaiting a full-text decision"),
    ]
    return [f"{k:,} {what}" for k, what in waiting if k]
