"""Benchmarks of the model registry client and server (``python -m bench``, ``make bench``).

One registry server runs as a subprocess on a fresh SQLite file (WAL) per scenario; the clients
run in the bench process (paging runs in a child process so its peak RSS can be read alone).
Results go to ``bench/results/`` as JSON and a markdown table; see ``bench/README.md``.
"""
