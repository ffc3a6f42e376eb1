"""The array members of a sample (docs/shards.md "Flow members"): the one codec, the member
names and order, and the writer/reader round trip."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from mepipe.contract.sample import (
    APEX_OFFSET,
    FLOW_MEMBERS,
    OFFSET_FLOW_MEMBERS,
    ONSET_APEX,
    array_shape,
    decode_array,
    encode_array,
    iter_samples,
    member_names,
    shard_writer,
    write_sample,
)
from mepipe.errors import MepipeError


def test_an_array_round_trips_as_little_endian_float16_and_equal_input_gives_equal_bytes():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 8, 8)).astype(np.float32)
    data = encode_array(a)
    back = decode_array(data, (2, 8, 8))
    assert back.dtype == np.dtype("<f2") and back.shape == (2, 8, 8)
    assert np.array_equal(back, a.astype(np.float16))
    assert encode_array(a.copy()) == data
    # a Fortran-ordered or big-endian copy of the same values is stored the same way
    assert encode_array(np.asfortranarray(a)) == data
    assert encode_array(a.astype(">f4")) == data


def test_decode_refuses_a_pickled_object_array():
    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MepipeError, match="dtype"):
        decode_array(out.getvalue(), name="x.flow.npy")


def test_decode_refuses_a_wrong_shape_dtype_or_a_lying_header():
    data = encode_array(np.zeros((4, 4)))
    with pytest.raises(MepipeError, match=r"x.strain.npy: shape \(4, 4\), expected \(8, 8\)"):
        decode_array(data, (8, 8), name="x.strain.npy")
    wide = io.BytesIO()
    np.save(wide, np.zeros((4, 4), np.float32))
    with pytest.raises(MepipeError, match="dtype <f4, expected <f2"):
        decode_array(wide.getvalue(), (4, 4))
    with pytest.raises(MepipeError, match="data bytes do not match"):
        decode_array(data[:-2], (4, 4))
    with pytest.raises(MepipeError, match=r"not a \.npy"):
        decode_array(b"\x89PNG\r\n\x1a\n" + bytes(64))


def test_member_names_put_images_then_the_offset_image_then_arrays_then_json():
    assert member_names("k", "jpg") == [
        *(f"k.{n}.jpg" for n in ("neutral", "e0", "e1", "e2", "e3", "e4")),
        "k.json",
    ]
    both = member_names("k", "png", (APEX_OFFSET, ONSET_APEX))
    assert both[6:] == [
        "k.offset.png",
        *(f"k.{n}.npy" for n in (*FLOW_MEMBERS, *OFFSET_FLOW_MEMBERS)),
        "k.json",
    ]
    assert FLOW_MEMBERS == ("flow", "strain", "magnitude")
    assert array_shape("flow_offset", 16) == (2, 16, 16) and array_shape("strain", 16) == (16, 16)
    with pytest.raises(ValueError):
        member_names("k", "jpg", ("onset-offset",))


def test_write_sample_stores_the_arrays_and_sample_array_reads_them(tmp_path: Path):
    size = 8
    images = {f"{n}.png": b"img" for n in ("neutral", "e0", "e1", "e2", "e3", "e4")}
    rng = np.random.default_rng(1)
    arrays = {name: rng.normal(size=array_shape(name, size)) for name in FLOW_MEMBERS}
    with shard_writer(tmp_path / "s.tar") as tar:
        write_sample(tar, "k", images, {"key": "k"}, "png", arrays)
    with tarfile.open(tmp_path / "s.tar") as tar:
        assert tar.getnames() == member_names("k", "png", (ONSET_APEX,))
    (sample,) = iter_samples(tmp_path / "s.tar")
    flow = sample.array("flow", (2, size, size))
    assert np.array_equal(flow, arrays["flow"].astype(np.float16))
    with pytest.raises(MepipeError, match="no flow_offset.npy member"):
        sample.array("flow_offset")
    with pytest.raises(ValueError, match="members"), shard_writer(tmp_path / "t.tar") as tar:
        write_sample(tar, "k", images, {"key": "k"}, "png", {"flow": arrays["flow"]})
