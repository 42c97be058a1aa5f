"""Applications built on analogtorch, run by ``python -m analogtorch <command>``:

- ``compare``: digital vs analog training of one network on Fashion-MNIST, accuracy per epoch and
  after programming into PCM over time, with a report (``compare.py``, ``report.py``).
- ``demo``: a weight matrix programmed into PCM, drifting and read over a year (``demo.py``).
- ``data``: MNIST-format idx data sets, read without downloading anything (``data.py``).

The library (``analogtorch`` and its other subpackages) never imports this package.
"""
