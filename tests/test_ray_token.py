"""The Ray token of the clusters this package starts (rayactors/ray_token.py): written where Ray
looks, for its owner alone, only when token auth is on and no token is given."""
from __future__ import annotations

import stat

from rayactors.ray_token import ensure_token, token_path


def test_a_token_is_written_for_its_owner_alone_and_never_over_one_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert token_path() == tmp_path / ".ray" / "auth_token"
    assert ensure_token({"RAY_AUTH_MODE": "disabled"}) is None
    assert ensure_token({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "given"}) is None
    assert ensure_token({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(tmp_path / "named")}) is None
    assert not (tmp_path / ".ray").exists() and not (tmp_path / "named").exists()
    written = ensure_token({"RAY_AUTH_MODE": "token"})
    assert written == token_path()
    assert (stat.S_IMODE(written.stat().st_mode), stat.S_IMODE(written.parent.stat().st_mode)) == (0o600, 0o700)
    first = written.read_text()
    assert len(first) == 64 and int(first, 16) >= 0                # 256 bits, hex, as Ray's own
    assert ensure_token({"RAY_AUTH_MODE": "TOKEN"}) is None         # one there already: kept as it is
    assert written.read_text() == first
    assert sorted(p.name for p in written.parent.iterdir()) == ["auth_token"]     # no draft left
