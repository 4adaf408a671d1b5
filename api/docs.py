"""/docs without the internet: Swagger UI 5 from the `swagger-ui-py` package's bundled assets, served at
/docs/static/ (under /docs, so as open as the page itself), instead of Litestar's CDN links."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

STATIC_PATH = "/docs/static"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png")


def assets_dir() -> Path:
    """The `swagger_ui` package's static folder, found without importing the package (its web-framework
    adapters are not needed)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package (Swagger UI's assets for /docs) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path="/", js_url=f"{STATIC_PATH}/swagger-ui-bundle.js", css_url=f"{STATIC_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{STATIC_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{STATIC_PATH}/favicon-32x32.png'>",
    )


def assets_router() -> ControllerRouterHandler:
    return create_static_files_router(path=STATIC_PATH, directories=[assets_dir()], include_in_schema=False,
                                      name="docs-assets")
