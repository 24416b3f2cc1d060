"""Recover the members of a truncated zip from their local headers.

A partial download loses the zip's central directory (it sits at the end), and zipfile then
refuses the whole file. The members before the cut are still intact: each starts with a local
file header (APPNOTE.TXT §4.3.7) giving its name, method, sizes and CRC. ``scan`` walks those
headers from the start and returns a ``zipfile.ZipInfo`` per complete member, so zipfile's own
reader (``ZipExtFile``: inflate and CRC check) reads them as usual. Members written with a data
descriptor (sizes after the data) are measured by inflating them once. The walk stops at the
first member the truncation cut; what it names is reported as lost.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import IO, cast

__all__ = ["Salvage", "open_member", "scan"]

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_MAGIC = b"PK\x03\x04"
_DESCRIPTOR_MAGIC = b"PK\x07\x08"
_ZIP64_EXTRA = 0x0001
_CHUNK = 1 << 20


@dataclass
class Salvage:
    """What a scan recovered: complete members, and the one the cut went through (if any).

    The cut member is returned too (``partial``), its compressed size set to what is left and
    its size capped at ``max_ratio`` times that, so its readable beginning can still be used:
    reading it ends with an error where the data stops.
    """

    members: list[zipfile.ZipInfo] = field(default_factory=list)
    partial: zipfile.ZipInfo | None = None


def scan(handle: IO[bytes], file_size: int, max_ratio: int) -> Salvage:
    """Walk local headers from offset 0 until the data ends or stops making sense."""
    found = Salvage()
    offset = 0
    while offset + _LOCAL.size <= file_size:
        handle.seek(offset)
        header = handle.read(_LOCAL.size)
        if header[:4] != _LOCAL_MAGIC:
            break
        try:
            info, data_start = _local_info(handle, header, offset)
            end = _data_end(handle, info, data_start, file_size)
        except (ValueError, IndexError, struct.error, zlib.error):
            break  # not a sane header or stream: what came before is all there is
        if end is None:
            info.compress_size = file_size - data_start
            declared = info.file_size or info.compress_size * max_ratio
            info.file_size = min(declared, info.compress_size * max_ratio)
            del info.CRC  # zipfile then skips the CRC check, which a cut member cannot pass
            found.partial = info
            break
        found.members.append(info)
        offset = end
    return found


def _local_info(handle: IO[bytes], header: bytes, offset: int) -> tuple[zipfile.ZipInfo, int]:
    fields = _LOCAL.unpack(header)
    flags, method, crc, compressed, size, name_len, extra_len = (
        fields[2],
        fields[3],
        fields[6],
        fields[7],
        fields[8],
        fields[9],
        fields[10],
    )
    raw_name = handle.read(name_len)
    extra = handle.read(extra_len)
    name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
    info = zipfile.ZipInfo(name)
    info.flag_bits, info.compress_type, info.CRC = flags, method, crc
    info.compress_size, info.file_size = _zip64_sizes(extra, compressed, size)
    info.header_offset = offset
    return info, offset + _LOCAL.size + name_len + extra_len


def _zip64_sizes(extra: bytes, compressed: int, size: int) -> tuple[int, int]:
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        if kind == _ZIP64_EXTRA and length >= 16:
            size, compressed = struct.unpack_from("<QQ", extra, position + 4)
        position += 4 + length
    return compressed, size


def _data_end(handle: IO[bytes], info: zipfile.ZipInfo, start: int, file_size: int) -> int | None:
    """Where the member's data (and descriptor) ends; None when the file ends first."""
    if not info.flag_bits & 0x08:
        end = start + info.compress_size
        return end if end <= file_size else None
    if info.compress_type != zipfile.ZIP_DEFLATED:
        return None
    handle.seek(start)
    inflater = zlib.decompressobj(-15)
    consumed = 0
    size = 0
    while not inflater.eof:
        chunk = handle.read(_CHUNK)
        if not chunk:
            return None
        size += len(inflater.decompress(chunk))
        consumed += len(chunk) - len(inflater.unused_data)
    info.compress_size, info.file_size = consumed, size
    return _skip_descriptor(handle, info, start + consumed)


def _skip_descriptor(handle: IO[bytes], info: zipfile.ZipInfo, at: int) -> int | None:
    handle.seek(at)
    head = handle.read(24)
    skip = 4 if head[:4] == _DESCRIPTOR_MAGIC else 0
    if len(head) < skip + 12:
        return None
    info.CRC = struct.unpack_from("<I", head, skip)[0]
    wide = info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF
    return at + skip + (20 if wide else 12)


def open_member(handle: IO[bytes], info: zipfile.ZipInfo) -> IO[bytes]:
    """A reader for one recovered member, with zipfile's own inflate and CRC check."""
    handle.seek(info.header_offset)
    header = handle.read(_LOCAL.size)
    fields = _LOCAL.unpack(header)
    handle.seek(info.header_offset + _LOCAL.size + fields[9] + fields[10])
    return cast(IO[bytes], zipfile.ZipExtFile(handle, "r", info, None, True))
