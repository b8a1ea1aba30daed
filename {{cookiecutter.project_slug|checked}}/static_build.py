"""What the image build does to the app's static files (the Dockerfile's static stage):

    python static_build.py {{ cookiecutter.project_slug }}/static OUT

writes OUT/static/ with each file twice, under its own name and under a name that carries a
digest of its content (app.css and app.3f2a9c1b09ab.css), each with Brotli, Zstandard and gzip
copies beside it (app.css.br, .zst, .gz) where they are at least a tenth smaller; and
OUT/static-manifest.json, from each name to its digest name, which the app reads to give
digest URLs (static_files.py). The same files give the same output, byte for byte: a file
that does not change keeps its digest name, and browsers their copy of it.

Only regular files are copied: a link is copied as the file it leads to when that is inside
the folder, and left out when it leads elsewhere.
"""

import gzip
import hashlib
import json
import os
import sys
from pathlib import Path

import brotli

try:
    from compression import zstd  # Python 3.14 on
except ImportError:
    from backports import zstd

MANIFEST = "static-manifest.json"
DIGEST_LENGTH = 12  # hexadecimal digits of SHA-256: the edge recognises names by this (Caddyfile)
COMPRESSORS = {
    ".br": lambda data: brotli.compress(data, quality=11),
    ".zst": lambda data: zstd.compress(data, level=19),
    ".gz": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
}


def digest_name(name: str, data: bytes) -> str:
    """css/app.css -> css/app.3f2a9c1b09ab.css; a name without a suffix gets it at the end."""
    digest = hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]
    folder, _, base = name.rpartition("/")
    stem, dot, suffix = base.rpartition(".")
    base = f"{stem}.{digest}.{suffix}" if dot and stem else f"{base}.{digest}"
    return f"{folder}/{base}" if folder else base


def files(source: Path):
    """Each file to publish, as (its name relative to source, its path), in a stable order."""
    root = source.resolve()
    for folder, folders, names in os.walk(source):
        folders.sort()
        links = [name for name in folders if Path(folder, name).is_symlink()]
        for name in sorted(names) + links:
            path = Path(folder, name)
            if path.resolve().is_relative_to(root) and path.resolve().is_file():
                yield path.relative_to(source).as_posix(), path
            else:
                print(f"static_build.py: {path} left out: not a file in {source}", file=sys.stderr)


def write(targets: list[Path], source: Path, data: bytes) -> None:
    """The file (data, as read from source) under each name, and its compressed copies, made
    once; each with the file's time of change (the edge's ETag)."""
    copies = {"": data}
    for suffix, compress in COMPRESSORS.items():
        compressed = compress(data)
        if len(compressed) <= 0.9 * len(data):
            copies[suffix] = compressed
    changed = source.stat().st_mtime_ns
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix, content in copies.items():
            path = target.with_name(target.name + suffix)
            path.write_bytes(content)
            os.utime(path, ns=(changed, changed))


def build(source: Path, out: Path) -> dict[str, str]:
    (out / "static").mkdir(parents=True, exist_ok=True)  # also for no files at all
    manifest = {}
    for name, path in files(source):
        data = path.read_bytes()
        manifest[name] = digest_name(name, data)
        write([out / "static" / name, out / "static" / manifest[name]], path, data)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
