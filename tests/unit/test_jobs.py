"""The command frame: a broken rules file stops a command, it is not logged once per applicant."""
from __future__ import annotations

import pytest

from pipeline import jobs
from pipeline.config import default_config
from pipeline.errors import RulesError
from pipeline.resources import shipped


@pytest.fixture
def broken_rules_cfg(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text("[call\nname = 'typo'\n", encoding="utf-8")
    return default_config(tmp_path / "data", bad)


def test_reprocess_with_a_broken_rules_file_fails(broken_rules_cfg):
    with pytest.raises(RulesError):
        jobs.reprocess(broken_rules_cfg)


def test_import_with_a_broken_rules_file_fails_before_recording_mail(broken_rules_cfg):
    sample = sorted(shipped("samples").glob("*.eml"))[0]
    with pytest.raises(RulesError):
        jobs.import_files(broken_rules_cfg, [sample])
