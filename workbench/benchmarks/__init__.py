"""Benchmarks: memory, throughput, cost per export and scale, measured on this machine.

`python -m benchmarks.run [--small] [--out DIR]` runs them all and prints Markdown tables; the
numbers also go to a JSON file. They are measurements, not tests: nothing here asserts a speed.
"""
