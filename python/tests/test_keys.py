"""CURVE key files as docs/security.md describes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zmq

from trpo_worker.worker import KeyFileError, read_key_file


def write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_key_file_with_comments_spaces_and_crlf(tmp_path: Path) -> None:
    public, secret = zmq.curve_keypair()
    text = f"# trpo CURVE secret key 'w' (ZeroMQ Z85). Keep it private (mode 0600).\r\n#   {public.decode()}\r\n\r\n" \
           f"  {secret.decode()}  \r\n"
    assert read_key_file(str(write(tmp_path / "w.key", text, 0o600)), secret=True) == secret
    assert read_key_file(str(write(tmp_path / "w.pub", public.decode() + "\n", 0o644)), secret=False) == public


def test_secret_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    _, secret = zmq.curve_keypair()
    path = write(tmp_path / "w.key", secret.decode() + "\n", 0o644)
    with pytest.raises(KeyFileError, match=r"accessible to other users \(mode 644\); run: chmod 600"):
        read_key_file(str(path), secret=True)


@pytest.mark.parametrize("text, message", [
    ("abc\n", "a line of 3 characters"),
    ("", "0 key lines"),
    ("# only a comment\n", "0 key lines"),
    ("x" * 40 + "\n" + "y" * 40 + "\n", "2 key lines"),
    ("~" * 40 + "\n", "outside the Z85 alphabet"),
])
def test_malformed_key_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        read_key_file(str(write(tmp_path / "k.pub", text, 0o600)), secret=False)
