"""plotly.js, served as the static file `plotly/plotly.min.js` straight from the pinned plotly
package: no CDN (the machines have no internet) and no copy in the repository to drift from the
pin. Only that one file: the package's data folder also holds data sets we must not publish."""

from __future__ import annotations

import functools
from pathlib import Path

import plotly
from django.contrib.staticfiles import finders
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "plotly.min.js"
PREFIX = "plotly"


class PlotlyJsFinder(finders.BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=Path(plotly.__file__).parent / "package_data")
        self.storage.prefix = PREFIX  # collectstatic and WhiteNoise publish it under plotly/

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path == f"{PREFIX}/{PLOTLY_JS}" and self.storage.exists(PLOTLY_JS):
            found = self.storage.path(PLOTLY_JS)
            return [found] if find_all else found
        return []

    def list(self, ignore_patterns):
        yield PLOTLY_JS, self.storage



@functools.cache
def static_text(path: str) -> str:
    """A static file's text, to inline it in the one page that must work without the server: the
    standalone report (plotly.js and the script that draws its figures)."""
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(f"no static file {path}")
    return Path(found).read_text(encoding="utf-8")
