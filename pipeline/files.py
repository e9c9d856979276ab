"""The storage directory: raw mails and attachments, named by sha256.

Names that came from outside are never used as paths; a file's display name
lives in the database. Writes are atomic (temp file + rename) and private
(0600), so a crash never leaves half a file under the final name.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

EXTENSIONS = {"docx": ".docx", "pdf": ".pdf", "doc": ".doc", "wps": ".wps", "rtf": ".rtf", "zip": ".zip"}


class FileStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def ensure(self) -> None:
        for sub in ("raw", "files"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def raw_path(self, sha256: str) -> Path:
        return self.root / "raw" / sha256[:2] / f"{sha256}.eml"

    def file_path(self, sha256: str, kind: str) -> Path:
        return self.root / "files" / sha256[:2] / f"{sha256}{EXTENSIONS.get(kind, '.bin')}"

    def put_raw(self, sha256: str, data: bytes) -> Path:
        return self._put(self.raw_path(sha256), data)

    def put_file(self, sha256: str, kind: str, data: bytes) -> Path:
        return self._put(self.file_path(sha256, kind), data)

    def put_outgoing(self, sha256: str, data: bytes) -> Path:
        """A rendered reply, kept so exactly these bytes are what gets sent."""
        return self._put(self.root / "outbox" / f"{sha256}.eml", data)

    def _put(self, path: Path, data: bytes) -> Path:
        if path.exists() and path.stat().st_size == len(data):
            return path  # content-addressed: same name, same bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path


class OverlayFileStore(FileStore):
    """A dry run's files: new ones go to a scratch folder, earlier runs' are still found.

    `--dry-run` changes nothing anywhere, so not even a content-addressed
    attachment may land in the real storage directory.
    """

    def __init__(self, scratch: Path, real: Path):
        super().__init__(scratch)
        self.real = FileStore(real)

    def file_path(self, sha256: str, kind: str) -> Path:
        mine = super().file_path(sha256, kind)
        return mine if mine.exists() else self.real.file_path(sha256, kind)

    def put_file(self, sha256: str, kind: str, data: bytes) -> Path:
        return self._put(super().file_path(sha256, kind), data)
