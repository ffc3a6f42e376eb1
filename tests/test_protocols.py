"""The label schemes in manifests/ and the code that applies them."""

import pytest

from mepipe.errors import MepipeError
from mepipe.protocols import load_scheme, normalise_label, scheme_names


def test_every_scheme_file_loads_and_maps_only_to_its_classes():
    assert {"cde", "casme2_5class", "samm_5class", "smic_3class"} <= set(scheme_names())
    for name in scheme_names():
        scheme = load_scheme(name)
        for database, mapping in scheme.maps.items():
            assert set(mapping.values()) <= set(scheme.classes), (name, database)
        assert set(scheme.evaluated) <= set(scheme.maps)


@pytest.mark.parametrize(
    ("database", "label", "expected"),
    [
        ("casme2", "disgust", "negative"),
        ("casme2", "repression", "negative"),
        ("casme2", "fear", None),  # only disgust and repression count for CASME II
        ("casme2", "sadness", None),
        ("casme2", "others", None),
        ("samm", "fear", "negative"),
        ("samm", "contempt", "negative"),
        ("samm", "others", None),
        ("smic", "positive", "positive"),
        ("ckplus", "sadness", "negative"),
        ("oulu", "surprise", "surprise"),
        ("mmi", "happiness", "positive"),
    ],
)
def test_cde_mapping(database, label, expected):
    subset = "HS" if database == "smic" else None
    mapped, reason = load_scheme("cde").label_for(database, "s", "c", label, subset)
    assert mapped == expected
    assert (reason is None) == (expected is not None)


def test_cde_named_exclusions_and_smic_subset():
    cde = load_scheme("cde")
    named = {(ex.database, ex.subject, ex.clip) for ex in cde.exclusions}
    # The CDE-class clips the official list leaves out (DATASETS.md), and no others.
    assert named == {
        ("casme2", "sub04", "EP12_01f"),
        ("casme2", "sub05", "EP09_05f"),
        ("casme2", "sub09", "EP02_02f"),
    }
    mapped, reason = cde.label_for("casme2", "sub04", "EP12_01f", "disgust")
    assert mapped is None and "'/' in ApexFrame" in reason
    mapped, reason = cde.label_for("casme2", "sub05", "EP09_05f", "disgust")
    assert mapped is None and "apex annotated at the onset frame" in reason
    mapped, reason = cde.label_for("casme2", "sub09", "EP02_02f", "happiness")
    assert mapped is None and "only some copies of the sheet" in reason
    for ex in cde.exclusions:
        assert ex.reason.startswith("not in the official MEGC 2019 list")
    # sub24/EP02_07 is sadness: never a CDE clip, so no exclusion names it.
    assert cde.label_for("casme2", "sub24", "EP02_07", "sadness") == (
        None,
        "label 'sadness' is not a class of cde",
    )
    assert cde.label_for("casme2", "sub05", "EP12_03f", "surprise") == ("surprise", None)
    assert (
        cde.label_for("smic", "s1", "VIS-s1_ne_01", "negative", "VIS")[1]
        == "cde uses only HS of smic"
    )


def test_expected_cde_counts_are_the_published_ones():
    expected = load_scheme("cde").expected
    totals = {
        db: sum(v for k, v in counts.items() if k != "subjects") for db, counts in expected.items()
    }
    assert totals == {"smic": 164, "casme2": 145, "samm": 133}
    assert sum(c["subjects"] for c in expected.values()) == 68


@pytest.mark.parametrize(
    ("database", "raw", "expected"),
    [
        ("ckplus", "   3.0000000e+00", "disgust"),
        ("mmi", "4", "happiness"),
        ("samm", "Other", "others"),
        ("samm", "Others", "others"),
        ("casme2", "Happiness", "happiness"),
        ("smic", "ne", "negative"),
    ],
)
def test_normalise_label(database, raw, expected):
    assert normalise_label(database, raw) == expected


@pytest.mark.parametrize(
    ("database", "raw"), [("casme2", "joy"), ("ckplus", "9.0"), ("ckplus", "abc")]
)
def test_unknown_labels_are_refused_with_the_value(database, raw):
    with pytest.raises(ValueError, match=raw.strip()):
        normalise_label(database, raw)


def test_unknown_protocol_names_the_known_ones():
    with pytest.raises(MepipeError, match="unknown protocol 'megc2099'.*cde"):
        load_scheme("megc2099")


def test_numeric_label_codes_are_data(tmp_path, monkeypatch):
    """Whether a release stores its labels as numbers is said in databases.toml, not code."""
    import shutil

    from mepipe import protocols

    copy = tmp_path / "manifests"
    shutil.copytree(protocols.manifests_dir(), copy)
    with (copy / "databases.toml").open("a") as handle:
        handle.write(
            '\n[newdb]\nkind = "macro"\nfps = 30.0\nlabels = ["anger", "joy"]\n'
            'numeric_codes = true\ncodes = { 1 = "anger", 2 = "joy" }\n'
        )
    monkeypatch.setenv("MEPIPE_MANIFESTS", str(copy))
    protocols.databases.cache_clear()
    try:
        assert normalise_label("newdb", " 2.0000000e+00") == "joy"
        with pytest.raises(ValueError, match="unknown emotion code '3'"):
            normalise_label("newdb", "3")
        assert normalise_label("smic", "ne") == "negative"  # a short code, not a number
    finally:
        monkeypatch.delenv("MEPIPE_MANIFESTS")
        protocols.databases.cache_clear()
