"""The config file naming the graphs: `{"graphs": {"name": "./path.py:attr" | "module:attr"}, "env": ...,
"auth": {"path": "./auth.py:auth"}}` (the auth entry names a `langgraph_sdk.Auth`, as in langgraph.json).

Paths are resolved against the config file's folder. Errors say what is wrong and where, and become a
clean CLI message (ConfigError), never a traceback.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from duragraph.errors import CliError
from engine.core.compiled import CompiledGraph, as_compiled, from_factory
from engine.core.errors import InvalidGraphError

log = logging.getLogger("duragraph.config")
# langgraph.json keys this server reads; the others are named in one warning
_WARNED: set[tuple[Path, tuple[str, ...]]] = set()  # one warning per file and process
KNOWN_KEYS = {"graphs", "env", "auth", "http", "$schema"}


class ConfigError(CliError):
    """The config file, or a graph it names, cannot be loaded."""


@dataclass(frozen=True)
class Config:
    path: Path
    graphs: Mapping[str, str]
    env: Mapping[str, str] = field(default_factory=dict)
    auth_path: str | None = None  # "./auth.py:auth": a langgraph_sdk.Auth object
    disable_mcp: bool = False  # "http": {"disable_mcp": true} leaves /mcp out
    disable_a2a: bool = False  # "http": {"disable_a2a": true} leaves /a2a out


def _parse_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(f"{path}:{lineno}: expected KEY=VALUE")
        key, _, value = line.removeprefix("export ").partition("=")
        out[key.strip()] = value.strip().strip("'\"")
    return out


def read_config(path: Path) -> Config:
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    graphs = raw.get("graphs")
    if not isinstance(graphs, dict) or not graphs:
        raise ConfigError(f'{path}: "graphs" must be a non-empty object of name -> "path.py:attr"')
    graphs = {name: (spec.get("path") if isinstance(spec, dict) else spec) for name, spec in graphs.items()}
    ignored = sorted(set(raw) - KNOWN_KEYS)
    if ignored and (path.resolve(), tuple(ignored)) not in _WARNED:
        _WARNED.add((path.resolve(), tuple(ignored)))
        log.warning("%s: ignoring key(s) this server does not use: %s (dependencies are whatever this "
                    "environment has installed)", path.name, ", ".join(ignored))
    for name, spec in graphs.items():
        if not isinstance(spec, str) or ":" not in spec:
            raise ConfigError(f'{path}: graph {name!r}: expected "./file.py:attr" or "module:attr", got {spec!r}')
    env_spec = raw.get("env", {})
    if isinstance(env_spec, str):
        env_path = (path.parent / env_spec).resolve()
        if not env_path.exists():
            raise ConfigError(f"{path}: env file not found: {env_path}")
        env = _parse_env_file(env_path)
    elif isinstance(env_spec, dict):
        env = {str(k): str(v) for k, v in env_spec.items()}
    else:
        raise ConfigError(f'{path}: "env" must be a file name or an object')
    auth = raw.get("auth")
    auth_path = None
    if auth is not None:
        if not isinstance(auth, dict) or not isinstance(auth.get("path"), str) or ":" not in auth["path"]:
            raise ConfigError(f'{path}: "auth" must be {{"path": "./auth.py:auth"}} naming a langgraph_sdk.Auth')
        auth_path = auth["path"]
        unused = sorted(set(auth) - {"path", "disable_studio_auth"})  # (no Studio user exists here to disable)
        if unused:
            logging.getLogger("duragraph.config").warning("%s: auth %s not used by DuraGraph", path, unused)
    http = raw.get("http", {})
    if not isinstance(http, dict):
        raise ConfigError(f'{path}: "http" must be an object')
    for key in ("disable_mcp", "disable_a2a"):
        if not isinstance(http.get(key, False), bool):
            raise ConfigError(f'{path}: http.{key} must be true or false')
    return Config(path=path.resolve(), graphs=dict(graphs), env=env, auth_path=auth_path,
                  disable_mcp=http.get("disable_mcp", False), disable_a2a=http.get("disable_a2a", False))


def _load_attr(spec: str, base: Path) -> Any:
    target, _, attr = spec.rpartition(":")
    if target.endswith(".py") or "/" in target:
        file = (base / target).resolve()
        if not file.exists():
            raise ConfigError(f"graph file not found: {file}")
        modname = f"duragraph_user_{file.stem}_{abs(hash(str(file)))}"
        if modname in sys.modules:
            module = sys.modules[modname]
        else:
            mspec = importlib.util.spec_from_file_location(modname, file)
            if mspec is None or mspec.loader is None:
                raise ConfigError(f"cannot import {file}")
            module = importlib.util.module_from_spec(mspec)
            sys.modules[modname] = module
            if str(file.parent) not in sys.path:
                sys.path.insert(0, str(file.parent))
            try:
                mspec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[modname]
                raise ConfigError(f"error importing {file}: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ConfigError(f"cannot import module {target!r}: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"{spec}: module has no attribute {attr!r}") from exc


def load_graphs(config: Config) -> dict[str, CompiledGraph]:
    """Import every graph the config names: a LangGraph `StateGraph` builder (compiled here), a compiled
    graph (incl. prebuilt agents), or a function returning either (with or without a `config` argument)."""
    os.environ.update({k: v for k, v in config.env.items() if k not in os.environ})
    out: dict[str, CompiledGraph] = {}
    for name, spec in config.graphs.items():
        obj = _load_attr(spec, config.path.parent)
        try:
            if callable(obj) and not hasattr(obj, "get_graph") and not hasattr(obj, "add_node"):
                out[name] = _run_factory(obj, name)
            else:
                out[name] = as_compiled(obj, name)
        except InvalidGraphError as exc:
            raise ConfigError(f"{exc} ({spec})") from exc
        except Exception as exc:
            raise ConfigError(f"graph {name!r} ({spec}): {type(exc).__name__}: {exc}") from exc
    return out


def _run_factory(fn: Any, name: str) -> CompiledGraph:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(from_factory(fn, name, {"configurable": {}}))
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, from_factory(fn, name, {"configurable": {}})).result()


def load_auth(config: Config) -> Any:
    """The `langgraph_sdk.Auth` object the config's "auth" entry names (None without one)."""
    if config.auth_path is None:
        return None
    from langgraph_sdk import Auth

    os.environ.update({k: v for k, v in config.env.items() if k not in os.environ})
    obj = _load_attr(config.auth_path, config.path.parent)
    if not isinstance(obj, Auth):
        raise ConfigError(f"auth {config.auth_path!r} is a {type(obj).__name__}, not a langgraph_sdk.Auth")
    return obj
