"""The IT templates in installer/policy: generated from the schema, read back without drift."""

from __future__ import annotations

import json
import plistlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app.policy import KEYS, Locations, load_policy
from app.policy.sources import DictRegistry, RegistryTree, read_any_file
from app.policy.templates import OUT, example_document, main, render_all, stale

NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}


def test_committed_templates_match_the_schema() -> None:
    assert stale() == [], "run `python -m app.policy.templates` and commit installer/policy/"
    assert main(["--check"]) == 0


def test_check_mode_reports_drift(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    (tmp_path / "meridian.admx").write_text("<edited/>", encoding="utf-8")
    assert stale(tmp_path) == ["meridian.admx"]
    assert main(["--check", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", ["linux-policy.example.json", "meridian.mobileconfig"])
def test_examples_are_valid_policies(name: str) -> None:
    source = read_any_file(OUT / name)
    assert source is not None and source.problems == []
    assert {e.key for e in source.entries} == {k.name for k in KEYS}


def test_mobileconfig_is_a_configuration_profile() -> None:
    profile = plistlib.loads((OUT / "meridian.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration" and profile["PayloadScope"] == "System"
    (payload,) = profile["PayloadContent"]
    for key in ("PayloadType", "PayloadUUID", "PayloadIdentifier", "PayloadVersion"):
        assert key in payload
    assert payload["locked"] == example_document("macos")["locked"]


def _admx() -> ET.Element:
    return ET.parse(OUT / "meridian.admx").getroot()  # noqa: S314 - our own generated file


def _adml() -> ET.Element:
    return ET.parse(OUT / "en-US" / "meridian.adml").getroot()  # noqa: S314


def test_admx_and_adml_agree() -> None:
    admx, adml = _admx(), _adml()
    strings = {s.get("id") for s in adml.iterfind(".//p:stringTable/p:string", NS)}
    presentations = {
        p.get("id") for p in adml.iterfind(".//p:presentationTable/p:presentation", NS)
    }
    text = (OUT / "meridian.admx").read_text(encoding="utf-8")
    assert set(re.findall(r"\$\(string\.([^)]+)\)", text)) <= strings
    assert set(re.findall(r"\$\(presentation\.([^)]+)\)", text)) <= presentations
    names = [p.get("name") for p in admx.iterfind(".//p:policy", NS)]
    assert len(names) == len(set(names))
    # Every key is a policy (locked); every setting is also a Recommended (default) one.
    assert {k.name for k in KEYS} <= set(names)
    assert {f"{k.name}_recommended" for k in KEYS if k.lockable} <= set(names)


def _group_policy_writes(policy: ET.Element, example: Any) -> tuple[str, dict[str, Any]]:
    """What gpedit writes to the registry for ``policy`` set to ``example``."""
    key = policy.get("key", "")
    value_name = policy.get("valueName")
    if value_name is not None:  # an enabled/disabled policy
        return key, {value_name: 1 if example else 0}
    (element,) = list(policy.find("p:elements", NS) or [])
    tag = element.tag.split("}")[1]
    if tag == "list":
        # <list valuePrefix=""> writes 1, 2, 3, ... under its own key.
        return element.get("key", ""), {str(i + 1): v for i, v in enumerate(example)}
    if tag == "enum":
        choices = [s.text for s in element.iterfind(".//p:string", NS)]
        assert example in choices
    if tag == "decimal":
        assert int(element.get("minValue", "0")) <= example <= int(element.get("maxValue", "0"))
    return key, {element.get("valueName", ""): example}


def test_group_policy_round_trip_through_the_registry_reader(tmp_path: Path) -> None:
    """Set every ADMX policy as gpedit would, read it back: no problems, the same values."""
    document = example_document("windows")
    wanted = {**document["defaults"], **document["locked"]}
    locked_names = set(document["locked"])
    tree: dict[str, RegistryTree] = {}
    for policy in _admx().iterfind(".//p:policy", NS):
        name = policy.get("name", "")
        base = name.removesuffix("_recommended")
        if (name == base) != (base in locked_names):
            continue  # set each key once: as locked or as a default, like the example
        key, values = _group_policy_writes(policy, wanted[base])
        node = tree.setdefault(key.upper(), RegistryTree())
        node.values.update(values)
    # Nest the subkeys the way the registry holds them.
    root = tree.pop(r"SOFTWARE\POLICIES\MERIDIAN")
    for path, node in tree.items():
        root.subkeys[path.split("\\")[-1].lower()] = node
        if path.endswith(r"\RECOMMENDED"):
            root.subkeys["Recommended"] = root.subkeys.pop("recommended")
    loc = Locations(
        "windows",
        program_data=tmp_path,
        registry=DictRegistry({r"SOFTWARE\Policies\Meridian": root}),
    )
    policy = load_policy(loc)
    assert policy.errors == []
    for key, value in wanted.items():
        assert policy.value(key) == value, key
        assert policy.locked(key) == (key in locked_names or not _lockable(key)), key


def _lockable(name: str) -> bool:
    return next(k for k in KEYS if k.name == name).lockable


def test_json_schema_lists_every_key() -> None:
    schema = json.loads((OUT / "meridian-policy.schema.json").read_text(encoding="utf-8"))
    locked = schema["properties"]["locked"]["properties"]
    defaults = schema["properties"]["defaults"]["properties"]
    assert set(locked) == {k.name for k in KEYS}
    assert set(defaults) == {k.name for k in KEYS if k.lockable}


def test_readme_documents_every_key() -> None:
    readme = render_all()["README.md"]
    for key in KEYS:
        assert f"| `{key.name}` |" in readme
