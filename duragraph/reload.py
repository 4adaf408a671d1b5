"""Hot reload for `duragraph dev`: watch the config's folder (watchfiles) and re-import the graphs when a
Python file or the config changes. The user's modules are dropped from `sys.modules` first, so a graph
file and the modules next to it that it imports are read afresh. An import that fails keeps the graphs
being served and prints one line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from duragraph.errors import CliError, user_code_location
from duragraph.serve import log

WATCHED = (".py", ".json", ".env")


def forget_user_modules(project: Path, data_dir: Path) -> None:
    """Drop the modules loaded from files under `project` (not installed packages, not the data dir)."""
    root, data = str(project), str(data_dir)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (file and file.startswith(root) and not file.startswith(data) and "site-packages" not in file) \
                or name.startswith("duragraph_user_"):
            del sys.modules[name]


def reload_graphs(config_path: Path, data_dir: Path) -> dict[str, object]:
    from duragraph.config import load_graphs, read_config

    config = read_config(config_path)
    forget_user_modules(config.path.parent, data_dir)
    return dict(load_graphs(config))


async def watch_graphs(config_path: Path, data_dir: Path, stop: asyncio.Event,
                       on_reload: Callable[[dict[str, object]], None]) -> None:
    """Until `stop`: on every change under the config's folder, reload; hand new graphs to `on_reload`."""
    from watchfiles import DefaultFilter, awatch

    project = await asyncio.to_thread(lambda: config_path.resolve().parent)
    data = str(data_dir)

    class Filter(DefaultFilter):
        def __call__(self, change: object, path: str) -> bool:
            return path.endswith(WATCHED) and not path.startswith(data) and super().__call__(change, path)  # type: ignore[arg-type]

    async for changes in awatch(project, watch_filter=Filter(), stop_event=stop, debounce=300, step=100):
        names = ", ".join(sorted({Path(p).name for _, p in changes}))
        try:
            graphs = await asyncio.to_thread(reload_graphs, config_path, data_dir)
        except CliError as exc:
            where = user_code_location(exc)
            print(f"duragraph: reload failed ({names}): {exc}{f' at {where}' if where else ''}; "
                  "still serving the previous graphs", file=sys.stderr, flush=True)
            continue
        except Exception as exc:  # a graph module may raise anything at import
            where = user_code_location(exc)
            print(f"duragraph: reload failed ({names}): {type(exc).__name__}: {exc}"
                  f"{f' at {where}' if where else ''}; still serving the previous graphs", file=sys.stderr,
                  flush=True)
            continue
        log.info("reloading after a change to %s", names)
        on_reload(graphs)
