"""
The encoder store's memo (`resolve.memo_get` / `memo_put`): a weights file's SHA-256 is hashed
once per (path, size, modification time, inode), across processes; a changed file is hashed
again; a damaged memo entry is recomputed, never served.
"""

import hashlib
import os

from xner_allennlp.pretrained import resolve


def forget_in_process(monkeypatch):
    # What a new process starts with.
    monkeypatch.setattr(resolve, "_SHA_MEMO", {})


def test_sha256_is_remembered_across_processes_and_rehashed_when_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_ENCODER_STORE", str(tmp_path / "store"))
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(b"a" * 4096)
    first = resolve.file_sha256(str(path))
    assert first == hashlib.sha256(b"a" * 4096).hexdigest()
    (memo,) = (tmp_path / "store" / resolve.MEMO_DIR).glob("sha256-*.json")
    hashed = []
    original = hashlib.sha256

    def counting():
        hashed.append(1)
        return original()

    monkeypatch.setattr(resolve.hashlib, "sha256", counting)
    forget_in_process(monkeypatch)
    assert resolve.file_sha256(str(path)) == first and not hashed
    # Rewritten in place: a new modification time, so hashed again.
    stat = os.stat(path)
    with open(path, "r+b") as handle:
        handle.write(b"b")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    forget_in_process(monkeypatch)
    second = resolve.file_sha256(str(path))
    assert second == original(b"b" + b"a" * 4095).hexdigest() and hashed == [1]
    # A damaged memo entry is ignored and rewritten.
    for entry in (tmp_path / "store" / resolve.MEMO_DIR).glob("sha256-*.json"):
        entry.write_text('{"key": "another file", "value": "0"}')
    forget_in_process(monkeypatch)
    assert resolve.file_sha256(str(path)) == second and hashed == [1, 1]
    assert memo.exists()


def test_an_unwritable_store_only_costs_the_hash(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XNER_ENCODER_STORE", str(blocker))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"xyz")
    assert resolve.file_sha256(str(path)) == hashlib.sha256(b"xyz").hexdigest()
    assert resolve.memo_get("sha256", "anything") is None
