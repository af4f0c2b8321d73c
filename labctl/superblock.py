"""The HDF5 superblock's file-consistency flags, kept clear while a run file is written.

A SWMR writer marks the superblock (version 3) as "open for SWMR writing". HDF5 refuses to
open a file so marked except as a SWMR reader, and tools built on HDF5 1.10/1.12 (h5dump,
MATLAB, Igor Pro, HDFView, netCDF) never open as SWMR readers: they could read neither a
running run nor a killed one. labctl's writer changes no metadata while it appends rows (all
chunks are allocated in advance), so the file on disk is consistent between flushes; after
each flush it clears the flags again (what ``h5clear -s`` does), in one write of the whole
superblock with its checksum recomputed. Layout and checksum: HDF5 File Format
Specification, superblock versions 2 and 3; Jenkins' lookup3 hash with initial value 0.
"""

from __future__ import annotations

import os

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, the checksum of HDF5 metadata."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & MASK
    k = 0
    while length > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & MASK
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & MASK
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & MASK
        a = (a - c) & MASK; a ^= _rot(c, 4); c = (c + b) & MASK  # noqa: E702
        b = (b - a) & MASK; b ^= _rot(a, 6); a = (a + c) & MASK  # noqa: E702
        c = (c - b) & MASK; c ^= _rot(b, 8); b = (b + a) & MASK  # noqa: E702
        a = (a - c) & MASK; a ^= _rot(c, 16); c = (c + b) & MASK  # noqa: E702
        b = (b - a) & MASK; b ^= _rot(a, 19); a = (a + c) & MASK  # noqa: E702
        c = (c - b) & MASK; c ^= _rot(b, 4); b = (b + a) & MASK  # noqa: E702
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = data[k:k + length] + bytes(12 - length)  # the missing bytes count as zero
    a = (a + int.from_bytes(tail[0:4], "little")) & MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & MASK
    c ^= b; c = (c - _rot(b, 14)) & MASK  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & MASK  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & MASK  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & MASK  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & MASK  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & MASK  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & MASK  # noqa: E702
    return c


def _read(fd: int) -> bytes | None:
    """The superblock (versions 2/3 at offset 0), or None if it is not one we understand."""
    head = os.pread(fd, 12, 0)
    if len(head) < 12 or head[:8] != SIGNATURE or head[8] not in (2, 3):
        return None
    size = 12 + 4 * head[9] + 4  # four addresses, then the checksum
    block = os.pread(fd, size, 0)
    if len(block) != size or lookup3(block[:-4]) != int.from_bytes(block[-4:], "little"):
        return None
    return block


def write_flags(fd: int) -> int | None:
    """The consistency flags on disk (0: any HDF5 reader may open the file)."""
    block = _read(fd)
    return None if block is None else block[11]


def clear_write_flags(fd: int) -> bool:
    """Clear the flags if set; True if the superblock on disk now has none."""
    head = os.pread(fd, 12, 0)  # the common case, called after every flush: nothing to do
    if len(head) == 12 and head[:8] == SIGNATURE and head[8] in (2, 3) and head[11] == 0:
        return True
    block = _read(fd)
    if block is None:
        return False
    if block[11] == 0:
        return True
    body = bytearray(block[:-4])
    body[11] = 0
    os.pwrite(fd, bytes(body) + lookup3(bytes(body)).to_bytes(4, "little"), 0)
    return True
