"""Writing collection windows to the Parquet dataset: atomic files, hourly compaction."""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Callable, Optional, TypeVar

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

HOUR_MS = 3_600_000
#: how the name of a file that cannot be read begins once it is moved aside, beside where it was:
#: hidden from every reader (pyarrow skips ``.``-files), kept for whoever wants to look at it
DAMAGED_PREFIX = ".damaged-"
log = logging.getLogger("delfin_dm.metrics")
T = TypeVar("T")
#: dictionary pages for the repeated strings only; min/max statistics for the time column only
#: (string statistics cost more than the whole write of a 50k-point window: measured in bench/)
WRITE_OPTIONS = dict(compression="zstd", use_dictionary=["resource_type", "resource_id", "metric", "unit"],
                     write_statistics=["timestamp"])


def filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    """A local directory or any pyarrow filesystem URI (s3://, gs://, hdfs://, file://)."""
    if "://" in root:
        return pafs.FileSystem.from_uri(root)
    return pafs.LocalFileSystem(), root.rstrip("/")


def unreadable(exc: BaseException) -> bool:
    """Whether a read failed on the file's bytes (cut short, not Parquet, a footer that does not
    decode), not on the way to them (a network store's OSError, which a later try may pass)."""
    return isinstance(exc, pa.ArrowInvalid) or (isinstance(exc, OSError) and "deserialize thrift" in str(exc))


def window_file(start_ms: int, end_ms: int) -> str:
    """A collection window's file name."""
    return f"w-{start_ms}-{end_ms}.parquet"


def window_hour(name: str) -> Optional[int]:
    """The hour (epoch ms // HOUR_MS) a window file's start falls in; None for any other name."""
    if not (name.startswith("w-") and name.endswith(".parquet")):
        return None
    try:
        return int(name[2:].split("-")[0]) // HOUR_MS
    except ValueError:
        return None


def hour_file(hour: int) -> str:
    """The file an hour's window files are merged into."""
    return f"h-{hour}.parquet"


def day_of(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d")


class ParquetSink:
    def __init__(self, root: str) -> None:
        self.fs, self.base = filesystem(root)
        self.fs.create_dir(self.base, recursive=True)

    def _dir(self, storage_id: str, day: str) -> str:
        return f"{self.base}/storage_id={storage_id}/date={day}"

    def _write_atomic(self, table: pa.Table, final: str) -> None:
        """Write to a hidden temp name (readers skip ``.``-files), then rename over ``final``."""
        tmp = final.rsplit("/", 1)[0] + f"/.tmp-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, tmp, filesystem=self.fs, **WRITE_OPTIONS)
        self.fs.move(tmp, final)

    def _readable(self, path: str, read: Callable[[str], T]) -> Optional[T]:
        """``read(path)``; None, the file set aside, when its bytes cannot be read (ours are
        written whole and renamed in, so it was damaged from outside). Left in, it failed its
        storage's hourly merge for good and, for a real-time driver, every window (``newest``)."""
        try:
            return read(path)
        except (pa.ArrowInvalid, OSError) as exc:
            if not unreadable(exc):
                raise
            self._set_aside(path, exc)
            return None

    def _set_aside(self, path: str, exc: BaseException) -> None:
        folder, name = path.rsplit("/", 1)
        aside = f"{folder}/{DAMAGED_PREFIX}{uuid.uuid4().hex[:8]}-{name}"     # never over an earlier one
        self.fs.move(path, aside)
        log.warning("metrics file %s cannot be read (%s: %s): moved to %s, out of the dataset; its points are "
                    "not read", path, type(exc).__name__, str(exc)[:200], aside)

    def write_window(self, storage_id: str, start_ms: int, end_ms: int, table: pa.Table) -> Optional[str]:
        """One window -> one file with a deterministic name: writing it again replaces it."""
        if table.num_rows == 0:
            return None
        folder = self._dir(storage_id, day_of(start_ms))
        self.fs.create_dir(folder, recursive=True)
        final = f"{folder}/{window_file(start_ms, end_ms)}"
        self._write_atomic(table.drop_columns(["storage_id"]), final)
        return final

    def compact(self, storage_id: str, older_than_ms: int) -> int:
        """Merge the window files of each finished hour into one ``h-<hour>.parquet``.

        Keeps file counts at 24 per storage per day instead of one per window. Returns the
        number of window files merged. The hour file is renamed in before the window files
        are deleted, so a reader never misses data; it skips window files older than their
        hour's file, which holds their points (``reader._current``), and one that listed the
        window files just before they went lists again (``reader.READ_TRIES``).
        A file that cannot be read is set aside (``DAMAGED_PREFIX``) and the rest merged.
        """
        root = f"{self.base}/storage_id={storage_id}"
        try:
            days = [i for i in self.fs.get_file_info(pafs.FileSelector(root)) if i.type == pafs.FileType.Directory]
        except FileNotFoundError:
            return 0
        merged = 0
        for day in days:
            files = self.fs.get_file_info(pafs.FileSelector(day.path))
            hours: dict[int, list[str]] = {}
            for f in files:
                hour = window_hour(f.base_name)
                if hour is not None:
                    hours.setdefault(hour, []).append(f.path)
            for hour, paths in hours.items():
                if (hour + 1) * HOUR_MS > older_than_ms:
                    continue
                target = f"{day.path}/{hour_file(hour)}"
                sources = paths + ([target] if self.fs.get_file_info(target).type == pafs.FileType.File else [])
                got = {p: self._readable(p, lambda path: pq.read_table(path, filesystem=self.fs)) for p in sources}
                paths = [p for p in paths if got[p] is not None]              # the rest were set aside
                tables = [t for t in got.values() if t is not None]
                if not tables:
                    continue
                merged_table = pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()
                self._write_atomic(merged_table.sort_by("timestamp"), target)
                for p in paths:
                    self.fs.delete_file(p)
                merged += len(paths)
        return merged

    def newest(self, storage_id: str) -> Optional[int]:
        """The newest point written for a storage (epoch ms), or None: from the timestamp
        statistics of its newest day's files, without reading their rows."""
        root = f"{self.base}/storage_id={storage_id}"
        try:
            days = sorted((i for i in self.fs.get_file_info(pafs.FileSelector(root))
                           if i.type == pafs.FileType.Directory), key=lambda i: i.base_name, reverse=True)
        except FileNotFoundError:
            return None
        for day in days:
            newest: Optional[int] = None
            for f in self.fs.get_file_info(pafs.FileSelector(day.path)):
                if f.type != pafs.FileType.File or f.base_name.startswith(".") or not f.base_name.endswith(".parquet"):
                    continue
                meta = self._readable(f.path, self._metadata)
                if meta is None:
                    continue
                column = meta.schema.names.index("timestamp")
                for g in range(meta.num_row_groups):
                    stats = meta.row_group(g).column(column).statistics
                    if stats is not None and stats.has_min_max:
                        newest = max(newest or stats.max_raw, stats.max_raw)
            if newest is not None:
                return newest
        return None

    def _metadata(self, path: str) -> pq.FileMetaData:
        with self.fs.open_input_file(path) as handle:
            return pq.ParquetFile(handle).metadata

    # -- retention ---------------------------------------------------------------------------
    def drop_storage(self, storage_id: str) -> bool:
        """Delete every point of one storage (its partition); True if there was one."""
        root = f"{self.base}/storage_id={storage_id}"
        if self.fs.get_file_info(root).type != pafs.FileType.Directory:
            return False
        self.fs.delete_dir(root)
        return True

    def expire(self, keep_days: int, now_ms: int) -> int:
        """Delete the day partitions of every storage older than ``keep_days`` full days (the
        day of ``now_ms`` counts as the first); returns how many went."""
        cutoff = day_of(now_ms - (keep_days - 1) * 86_400_000)
        removed = 0
        try:
            storages = [i for i in self.fs.get_file_info(pafs.FileSelector(self.base))
                        if i.type == pafs.FileType.Directory and i.base_name.startswith("storage_id=")]
        except FileNotFoundError:
            return 0
        for storage in storages:
            for day in self.fs.get_file_info(pafs.FileSelector(storage.path)):
                if day.type == pafs.FileType.Directory and day.base_name.startswith("date=") \
                        and day.base_name[5:] < cutoff:
                    self.fs.delete_dir(day.path)
                    removed += 1
        return removed
