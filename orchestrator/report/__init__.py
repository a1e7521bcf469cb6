"""`synthgen report`: one self-contained HTML page a person reviews a run with.

`build.py` reads a validated run (and its trace.jsonl and calls.jsonl, for what was rejected) into
the view of `view.py`; `render.py` fills `report.html.j2` with it, escaping every piece of
document and model text. The page carries its CSS and JS inline and works without the JS.
"""
