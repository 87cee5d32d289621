"""`python app.py load` on a ClickHouse store: the files read and validated as
data_access.loader does, then written chunk by chunk into ClickHouse.

Every file is validated (and its chunks kept on disk as Parquet) before anything is written;
without --skip-invalid any problem stops the load with nothing written. Each chunk is one
insert into the ingest table, so a load cut short is finished by loading the same files again
(the merge by states makes that harmless).

The reading and the rejected-rows file are data_access.loader's own (its private helpers):
its load_files writes through data_access.merge, which this store does not use.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from data_access.clickhouse.messages import ClickHouseMessages
from data_access.loader import (
    CHUNK_ROWS,
    LoadError,
    LoadReport,
    Progress,
    RowProblem,
    _read_chunks,
    _write_rejected,
    validate_chunk,
)
from data_access.merge import check_records
from data_access.writes import WriteScope


def _problems_of(refused, staged: pd.DataFrame, file: str) -> list[RowProblem]:
    return [RowProblem(file, int(staged["line"].iloc[r.row]), r.field, r.reason) for r in refused]


def load_files(
    messages: ClickHouseMessages,
    paths: list[Path],
    timezone: str,
    *,
    skip_invalid: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], Progress] | None = None,
    scope: WriteScope | None = None,
) -> LoadReport:
    """Validate every file, then write them chunk by chunk (see data_access.loader.load_files,
    whose arguments and report these are). A record that contradicts the identity of a message
    stored by an earlier load is not found here (that needs a read): the first identity stays."""
    scope = scope or WriteScope.account("file load")
    report = LoadReport()
    with tempfile.TemporaryDirectory(prefix="load-") as spool_dir:
        spool = Path(spool_dir)
        problems: list[RowProblem] = []
        chunks: dict[Path, list[tuple[int, Path, list[RowProblem]]]] = {}
        for path in paths:
            if not path.is_file():
                raise LoadError([RowProblem(str(path), 0, "-", "file not found")])
            try:
                for first, raw in _read_chunks(path, chunk_rows):
                    staged, found = validate_chunk(raw, first, path.name, timezone)
                    staged = staged.reset_index(drop=True)
                    found += _problems_of(check_records(staged, {}, scope), staged, path.name)
                    report.rows_read += len(raw)
                    problems.extend(found)
                    part = spool / f"{len(list(spool.iterdir())):06d}.parquet"
                    staged.to_parquet(part, index=False)
                    if found and skip_invalid:
                        raw.to_parquet(part.with_suffix(".raw.parquet"), index=False)
                    chunks.setdefault(path, []).append((first, part, found))
            except LoadError:
                raise
            except (ValueError, OSError, UnicodeDecodeError) as error:
                raise LoadError(
                    [RowProblem(path.name, 0, "-", f"cannot be read: {error}")]
                ) from None
        if problems and not skip_invalid:
            raise LoadError(problems)
        advance = progress(report.rows_read) if progress else (lambda _n: None)
        for path in paths:
            rejected_path = path.with_name(path.name + ".rejected.csv")
            wrote_header = False
            for first, part, found in chunks.get(path, []):
                staged = pd.read_parquet(part)
                bad_lines = {p.line for p in found}
                keep = ~staged["line"].isin(bad_lines)
                result = messages.ingest(
                    staged[keep].reset_index(drop=True), scope, all_or_nothing=False
                )
                report.rows_loaded += result.records
                report.rows_changed += result.records
                if found:
                    raw = pd.read_parquet(part.with_suffix(".raw.parquet"))
                    _write_rejected(rejected_path, raw, found, first, header=not wrote_header)
                    wrote_header = True
                    report.rows_rejected += len(bad_lines)
                advance(len(staged))
            if wrote_header:
                report.rejected_files.append(rejected_path)
    return report
