"""Live pages of a results store: ``placement-search serve`` (see app.py for the routes).

data.py turns the store's public reads into the pages' JSON, reference.py finds the ground truth a
search's regret is measured against, pages.py holds the HTML/JS, app.py the HTTP server.
"""

from placement_search.serve.app import LiveServer, make_server, serve_forever
from placement_search.serve.data import LiveData
from placement_search.store.reference import Reference, ReferenceFinder, search_standing, standing_line

__all__ = ["LiveData", "LiveServer", "Reference", "ReferenceFinder", "make_server", "search_standing",
           "serve_forever", "standing_line"]
