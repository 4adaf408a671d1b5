"""`duragraph new [DIR] --template NAME`: a runnable project (a LangGraph graph, its langgraph.json, a
five-line README, a test) copied from duragraph/templates/NAME."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from duragraph.errors import CliError
from duragraph.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATES = {
    "minimal": "two nodes, one after the other: the smallest graph",
    "approval": "human in the loop: a draft waits (interrupt) for a human to approve it",
    "agent": "a chat agent with tools (LangGraph ToolNode; OpenAI/Anthropic when a key is set, else scripted)",
}
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".duragraph")


def cmd_new(_settings: Settings, args: argparse.Namespace) -> int:
    if args.list:
        width = max(map(len, TEMPLATES))
        for name, what in TEMPLATES.items():
            print(f"{name:<{width}}  {what}")
        return 0
    if args.template not in TEMPLATES:
        raise CliError(f"no template {args.template!r}; choose one of: {', '.join(TEMPLATES)} "
                       "(duragraph new --list)")
    source = TEMPLATES_DIR / args.template
    target: Path = args.dir if args.dir is not None else Path(args.template)
    if target.exists() and not target.is_dir():
        raise CliError(f"{target} exists and is not a folder")
    files = sorted(p.relative_to(source) for p in source.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts)
    clashes = [str(f) for f in files if (target / f).exists()]
    if clashes:
        raise CliError(f"{target} already has {', '.join(clashes)}; choose an empty folder")
    shutil.copytree(source, target, ignore=SKIP, dirs_exist_ok=True)
    print(f"created {target}/ from the {args.template!r} template: {', '.join(str(f) for f in files)}")
    print(f"next: cd {target} && duragraph dev")
    return 0
