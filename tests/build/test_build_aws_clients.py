"""The build tasks' clients retry throttled calls (buildlib/aws.py: retry_config)."""

from __future__ import annotations

from buildlib.aws import DEFAULT_MAX_ATTEMPTS, Aws


def test_clients_retry_in_standard_mode_with_ten_attempts_by_default(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    retries = Aws().client("cloudformation").meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert DEFAULT_MAX_ATTEMPTS == 10


def test_the_users_own_max_attempts_wins(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    assert Aws().client("stepfunctions").meta.config.retries["total_max_attempts"] == 4


def test_max_attempts_from_the_config_file_wins_too(aws_env, monkeypatch, tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\nmax_attempts = 6\n")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert Aws().client("s3").meta.config.retries["total_max_attempts"] == 6


def test_the_demos_own_clients_retry_the_same_way(aws_env, monkeypatch):
    """The demo follows executions by polling them; a throttled look must not end the demo."""
    from localaws.demo import _client

    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    retries = _client("stepfunctions", "http://127.0.0.1:1").meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
