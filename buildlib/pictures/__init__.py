"""The project's pictures, drawn by its own code as SVG (no Graphviz or other system binary needed).

- `architecture`: resources/architecture.svg, from the four templates in cloudformation/ and the hand-kept
  description of how their resources group and connect, resources/architecture.toml (`pynt pictures`).
- `svgkit`: the small SVG helpers shared with the demo's timeline (localaws/demo/timeline.py) and the bench
  plots (bench/plots.py).
"""
