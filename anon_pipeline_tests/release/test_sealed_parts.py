"""Sealed staging parts (AES-GCM): round trip with pandas dtypes, and any change or wrong key is refused."""

import numpy as np
import pandas as pd
import pytest
from cryptography.fernet import Fernet

from anon_pipeline.secrets import TamperedError, WrongKeyError
from anon_pipeline.secrets.parts import read_part, write_part


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"postcode": pd.array(["LS5 8AB", None, "EC1A 1BB"], dtype="str"),
                         "born": pd.to_datetime(["1980-01-02", "1990-03-04", None]),
                         "band": pd.Categorical(["a", "b", "a"]), "n": [1, 2, 3]})


def test_round_trip_keeps_values_and_types(tmp_path):
    key = Fernet.generate_key()
    write_part(tmp_path / "p.arrow.enc", _frame(), key, name="qi_table")
    pd.testing.assert_frame_equal(read_part(tmp_path / "p.arrow.enc", key), _frame())
    data = (tmp_path / "p.arrow.enc").read_bytes()
    assert b"LS5" not in data and b"ARROW" not in data
    assert (tmp_path / "p.arrow.enc").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("distinct", [1, 3, 200, 40_000])
def test_repeated_text_is_stored_as_a_dictionary_and_read_back_as_text(tmp_path, distinct):
    rng = np.random.default_rng(distinct)
    n = 100_000
    values = np.array([f"band {i:05d}" for i in range(distinct)], dtype=object)[rng.integers(0, distinct, n)]
    values[rng.random(n) < 0.01] = None
    # Two Arrow chunks, as a concatenation of batches gives.
    band = pd.concat([pd.Series(values[:n // 3], dtype="str"), pd.Series(values[n // 3:], dtype="str")],
                     ignore_index=True)
    frame = pd.DataFrame({"band": band,
                          "unique": pd.array([f"{i:036d}" for i in range(n)], dtype="str"),
                          "kept": pd.Categorical(rng.choice(["x", "y"], n)),
                          "empty": pd.array([None] * n, dtype="str")})
    key = Fernet.generate_key()
    write_part(tmp_path / "p.arrow.enc", frame, key, name="anonymised")
    pd.testing.assert_frame_equal(read_part(tmp_path / "p.arrow.enc", key), frame)
    write_part(tmp_path / "q.arrow.enc", frame.drop(columns="band"), key, name="anonymised")
    band_bytes = (tmp_path / "p.arrow.enc").stat().st_size - (tmp_path / "q.arrow.enc").stat().st_size
    as_text = frame["band"].str.len().fillna(0).sum() + 8 * n  # its characters and 64-bit offsets
    if distinct <= 200:  # at most two bytes a row, and the dictionary once
        assert band_bytes < 0.25 * as_text
    else:  # more distinct values than half the rows of a sample: left as text
        assert band_bytes > 0.9 * as_text


@pytest.mark.parametrize("where", ["header", "nonce", "body", "end"])
def test_a_changed_byte_is_refused(tmp_path, where):
    key = Fernet.generate_key()
    path = tmp_path / "p.arrow.enc"
    write_part(path, _frame(), key, name="qi_table")
    data = bytearray(path.read_bytes())
    at = {"header": 5, "nonce": data.index(b"\n") + 3, "body": len(data) // 2, "end": len(data) - 1}[where]
    data[at] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedError):
        read_part(path, key)


def test_another_key_is_named(tmp_path):
    write_part(tmp_path / "p.arrow.enc", _frame(), Fernet.generate_key(), name="qi_table")
    with pytest.raises(WrongKeyError):
        read_part(tmp_path / "p.arrow.enc", Fernet.generate_key())


def test_an_existing_part_is_not_overwritten(tmp_path):
    key = Fernet.generate_key()
    write_part(tmp_path / "p.arrow.enc", _frame(), key, name="qi_table")
    with pytest.raises(FileExistsError):
        write_part(tmp_path / "p.arrow.enc", _frame(), key, name="qi_table")
