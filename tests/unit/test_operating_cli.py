"""The operating switches of the command line: dev's bind address without auth, the log format,
API keys and CORS origins from the environment."""

from __future__ import annotations

import pytest

from api.app import cors_config
from duragraph.cli import main
from duragraph.dev import dev_host
from duragraph.settings import Settings


def test_dev_without_auth_binds_loopback_only() -> None:
    wide = Settings(host="0.0.0.0")
    assert dev_host(wide, "open").host == "127.0.0.1"
    assert dev_host(wide, "api_keys").host == "0.0.0.0"
    assert dev_host(wide, "custom").host == "0.0.0.0"


def test_settings_from_env() -> None:
    s = Settings.from_env({"DURAGRAPH_API_KEYS": " k1, k2 ,", "DURAGRAPH_CORS_ORIGINS": "https://a.example,*",
                           "DURAGRAPH_LOG_FORMAT": "json", "DURAGRAPH_METRICS_PORT": "9464"})
    assert s.api_keys == ("k1", "k2")
    assert s.cors_origins == ("https://a.example", "*")
    assert (s.log_format, s.metrics_port) == ("json", 9464)


def test_cors_is_a_setting() -> None:
    assert cors_config(()) is None
    config = cors_config(("https://smith.langchain.com",))
    assert config is not None and config.allow_origins == ["https://smith.langchain.com"]
    assert "X-Request-ID" in config.expose_headers


def test_a_bad_log_format_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DURAGRAPH_LOG_FORMAT", "xml")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err == "duragraph: error: DURAGRAPH_LOG_FORMAT must be one of ['text', 'json'], got 'xml'\n"
