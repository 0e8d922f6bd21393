"""The one way every bridge patches moto (localaws/bridges/patching.py): once per patch, stacked patches each
kept once, moto's own always reachable, a patch put back by someone else applied again."""

from __future__ import annotations

import importlib
import types

import pytest

from localaws.bridges import BRIDGES, patching


class Moto:
    """Stands for a moto class whose attributes a bridge replaces."""

    def greet(self) -> str:
        return "moto"

    @classmethod
    def make(cls) -> str:
        return "moto-made"

    @property
    def state(self) -> str:
        return "moto-state"


@pytest.fixture
def moto_class() -> type:
    return type("Moto", (Moto,), dict(vars(Moto)))  # a fresh copy per test: patches are process-wide


def loud(original):
    def greet(self) -> str:
        return original(self).upper()

    return greet


def exclaimed(original):
    def greet(self) -> str:
        return original(self) + "!"

    return greet


def test_wrap_puts_the_replacement_over_what_it_replaced(moto_class):
    patching.wrap(moto_class, "greet", loud)
    assert moto_class().greet() == "MOTO"
    assert patching.is_patched(moto_class, "greet", f"{__name__}.loud")


def test_a_second_install_changes_nothing(moto_class):
    first = patching.wrap(moto_class, "greet", exclaimed)
    again = patching.wrap(moto_class, "greet", exclaimed)
    assert again is first and moto_class.greet is first
    assert moto_class().greet() == "moto!"  # not "moto!!" through two wrappers of one patch


def test_two_patches_of_one_attribute_are_each_kept_once(moto_class):
    for _ in range(3):  # an install that runs three times
        patching.wrap(moto_class, "greet", loud)
        patching.wrap(moto_class, "greet", exclaimed)
    assert moto_class().greet() == "MOTO!"
    assert patching.original(moto_class, "greet") is Moto.__dict__["greet"]


def test_original_is_moto_own_under_every_patch(moto_class):
    assert patching.original(moto_class, "greet") is Moto.__dict__["greet"]  # nothing patched yet
    patching.wrap(moto_class, "greet", loud)
    patching.wrap(moto_class, "greet", exclaimed)
    assert patching.original(moto_class, "greet")(moto_class()) == "moto"


def test_a_patch_put_back_by_someone_else_is_applied_again(moto_class, monkeypatch):
    patching.wrap(moto_class, "greet", loud)
    monkeypatch.setattr(moto_class, "greet", patching.original(moto_class, "greet"))
    assert not patching.is_patched(moto_class, "greet", f"{__name__}.loud")
    patching.wrap(moto_class, "greet", loud)
    assert moto_class().greet() == "MOTO"


def test_replace_keys_the_patch_by_the_replacement(moto_class):
    def greet(self) -> str:
        return "bridged"

    assert patching.replace(moto_class, "greet", greet) is greet
    patching.replace(moto_class, "greet", greet)
    assert moto_class().greet() == "bridged"
    assert [p.key for p in patching._chain(moto_class, "greet")] == [f"{__name__}.{greet.__qualname__}"]


def test_classmethods_and_properties_are_handed_over_as_stored(moto_class):
    def made_twice(current):
        assert isinstance(current, classmethod)
        return classmethod(lambda cls: current.__func__(cls) * 2)

    def shouted(current):
        assert isinstance(current, property)
        return property(lambda self: current.fget(self).upper())

    patching.wrap(moto_class, "make", made_twice)
    patching.wrap(moto_class, "state", shouted)
    patching.wrap(moto_class, "state", shouted)
    assert moto_class.make() == "moto-made" * 2
    assert moto_class().state == "MOTO-STATE"


def test_module_attributes_and_plain_values():
    module = types.ModuleType("fake_moto_module")
    module.handler = lambda: "moto"
    patching.replace(module, "handler", Moto)  # a class, as the Step Functions bridge swaps Execution
    assert module.handler is Moto
    with pytest.raises(TypeError, match="key"):
        patching.replace(module, "flag", None)  # a value without a name needs a key
    patching.replace(module, "flag", None, key="test: flag")
    assert module.flag is None and patching.is_patched(module, "flag", "test: flag")


def test_every_bridge_installed_again_keeps_one_copy_of_each_patch(local_aws):
    """A second endpoint in one process installs every bridge again: no patch of moto may stack on itself
    (before one helper, the Step Functions bridge wrapped EventManager.add_event once more each time)."""
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    def chains() -> dict[tuple[int, str], list[str]]:
        return {
            key: [p.key for p in patching._chain(patches[0].owner, patches[0].name)]
            for key, patches in patching._patches.items()
        }

    before = chains()
    assert len(before[(id(EventManager), "add_event")]) == 2  # history notifications, then the seal
    for name in BRIDGES:
        importlib.import_module(f"localaws.bridges.{name}").install(local_aws)
    assert chains() == before
