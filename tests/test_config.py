"""Settings from the environment and the config file: the site's name."""

from __future__ import annotations

from pathlib import Path

from kb.config import Settings


def test_the_site_name_comes_from_kb_site_name_or_the_config_file(tmp_path: Path) -> None:
    assert Settings().site_name == "Knowledge base"
    assert Settings.from_env({"KB_SITE_NAME": "  Pharmacy\tAnswers "}).site_name == "Pharmacy Answers"
    assert Settings.from_env({"KB_SITE_NAME": "   "}).site_name == "Knowledge base"
    config = tmp_path / "kb.toml"
    config.write_text('[web]\nsite_name = "Clinic notes"\n', encoding="utf-8")
    assert Settings.from_env({"KB_CONFIG": str(config)}).site_name == "Clinic notes"
    assert Settings.from_env({"KB_CONFIG": str(config), "KB_SITE_NAME": "Env wins"}).site_name == "Env wins"
