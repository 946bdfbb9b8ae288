"""Base images (fetch once into the disk pool, checksum) and per-VM qcow2 disks.

An adapter: it touches files and runs qemu-img. Downloads go to a temporary name in
the pool and are renamed only once complete (and verified), so a failed fetch leaves
no half image behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from .libvirt_xml import DiskSpec

CHUNK = 1 << 20
TIMEOUT = 30


class ImageError(Exception):
    """An image that cannot be fetched, verified or turned into a disk."""


def base_path(url: str, pool: str) -> str:
    """Where the base image of `url` lives in the pool: its basename, as infrared does."""
    name = posixpath.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise ImageError(f"image URL {url!r} does not end in a file name")
    return posixpath.join(pool, name)


def _local_path(url: str) -> str | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return urllib.request.url2pathname(parsed.path)
    if parsed.scheme == "":
        return url
    return None


def probe(url: str) -> None:
    """Fail now if the image cannot be read; no side effects."""
    local = _local_path(url)
    if local is not None:
        if not os.path.isfile(local) or not os.access(local, os.R_OK):
            raise ImageError(f"image {url} is not a readable file")
        return
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ImageError(f"image URL {url!r}: only http, https and file URLs are supported")
    req = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 405:  # some servers refuse HEAD but serve GET
            raise ImageError(f"image {url} is not reachable: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError(f"image {url} is not reachable: {reason}") from None


def parse_checksum(text: str | None) -> tuple[str, str] | None:
    """``sha256:HEX`` (or md5/sha1/sha512) → (algorithm, hex)."""
    if not text:
        return None
    algo, sep, digest = text.partition(":")
    if not sep:
        algo, digest = "sha256", text
    algo = algo.lower()
    if algo not in ("md5", "sha1", "sha256", "sha512"):
        raise ImageError(f"checksum algorithm {algo!r} is not md5, sha1, sha256 or sha512")
    if not digest or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise ImageError(f"checksum {text!r} is not ALGO:HEX")
    return algo, digest.lower()


Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


def fetch(url: str, dest: str, checksum: tuple[str, str] | None = None,
          force: bool = False, progress: Progress | None = None) -> bool:
    """Make `dest` hold the image at `url`; returns False when the cached copy was kept."""
    if os.path.exists(dest) and not force:
        if checksum:
            _verify(dest, checksum, url)
        return False
    os.makedirs(os.path.dirname(dest) or ".", mode=0o755, exist_ok=True)
    part = f"{dest}.part-{os.getpid()}"
    h = hashlib.new(checksum[0]) if checksum else None
    try:
        local = _local_path(url)
        if local is not None:
            src = open(local, "rb")
            total: int | None = os.fstat(src.fileno()).st_size
        else:
            try:
                src = urllib.request.urlopen(url, timeout=TIMEOUT)
            except (urllib.error.URLError, OSError) as exc:
                raise ImageError(f"image {url} is not reachable: "
                                 f"{getattr(exc, 'reason', exc)}") from None
            length = src.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = 0
        with src, open(part, "wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                if h:
                    h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            if progress:
                progress(done, done)  # the end, also when the size was not announced
        if h and h.hexdigest() != checksum[1]:
            raise ImageError(f"image {url}: {checksum[0]} is {h.hexdigest()}, "
                             f"expected {checksum[1]}")
        os.chmod(part, 0o644)
        os.replace(part, dest)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return True


def _verify(path: str, checksum: tuple[str, str], url: str) -> None:
    h = hashlib.new(checksum[0])
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    if h.hexdigest() != checksum[1]:
        raise ImageError(f"cached image {path} (from {url}): {checksum[0]} is {h.hexdigest()}, "
                         f"expected {checksum[1]}; use --force-image-download")


def _qemu_img(*args: str) -> str:
    try:
        res = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ImageError("qemu-img is not installed (Debian: qemu-utils)") from None
    if res.returncode != 0:
        raise ImageError(f"qemu-img {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def image_format(path: str) -> str:
    return json.loads(_qemu_img("info", "--output=json", path))["format"]


def create_disk(disk: DiskSpec) -> None:
    """Create one VM disk: a qcow2 overlay on its base image, or an empty qcow2."""
    os.makedirs(os.path.dirname(disk.path), mode=0o755, exist_ok=True)
    if disk.backing:
        args = ["create", "-q", "-f", "qcow2", "-F", image_format(disk.backing),
                "-b", disk.backing, disk.path]
        if disk.size:
            args.append(disk.size)
    else:
        args = ["create", "-q", "-f", "qcow2", "-o", f"preallocation={disk.preallocation}",
                disk.path, disk.size or "1G"]
    _qemu_img(*args)


def remove_file(path: str) -> None:
    Path(path).unlink(missing_ok=True)
