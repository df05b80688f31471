"""fdwait: readiness of one descriptor or a few, whatever their numbers."""

from __future__ import annotations

import os

import pytest

from gigq_client import fdwait


def _pipe_above(number: int) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    high_read, high_write = os.dup2(read_end, number), os.dup2(write_end, number + 1)
    os.close(read_end)
    os.close(write_end)
    return high_read, high_write


def test_a_pipe_numbered_above_1024_is_waited_on_like_any_other():
    read_end, write_end = _pipe_above(1500)
    try:
        assert fdwait.writable(write_end, 0)
        assert not fdwait.readable(read_end, 0.01)
        os.write(write_end, b"x")
        assert fdwait.readable(read_end, 1)
        os.close(write_end)
        os.read(read_end, 1)
        assert fdwait.readable(read_end, 0), "a hung-up pipe reads as readable (EOF), as with select()"
    finally:
        os.close(read_end)


def test_a_closed_descriptor_raises_as_select_would():
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    with pytest.raises(OSError):
        fdwait.readable(read_end, 0)


def test_readable_among_names_only_the_descriptors_with_something_to_read():
    quiet_read, quiet_write = os.pipe()
    loud_read, loud_write = _pipe_above(1600)
    try:
        assert fdwait.readable_among([quiet_read, loud_read], 0.01) == []
        os.write(loud_write, b"x")
        assert fdwait.readable_among([quiet_read, loud_read], 1) == [loud_read]
        os.write(quiet_write, b"y")
        assert sorted(fdwait.readable_among([quiet_read, loud_read], 0)) == sorted([quiet_read, loud_read])
    finally:
        for fd in (quiet_read, quiet_write, loud_read, loud_write):
            os.close(fd)
