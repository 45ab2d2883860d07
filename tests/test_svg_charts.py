"""The status page's SVG charts: well-formed, every label escaped, axes that hold the data."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from sagesync.ops.svg_charts import Series, _nice_top, bar_chart, hbar_chart, step_chart

SVG = "{http://www.w3.org/2000/svg}"
values = st.lists(st.one_of(st.none(), st.integers(0, 10**7)), min_size=1, max_size=30)
labels = st.text(min_size=1, max_size=40).filter(lambda t: t.isprintable())


@given(st.one_of(st.just(0.0), st.floats(0.01, 1e12)))
def test_the_axis_top_holds_the_highest_value_and_is_round(value: float) -> None:
    top = _nice_top(value)
    assert top >= value
    mantissa = top / 10 ** math.floor(math.log10(top) + 1e-9)
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5, 10))
    assert value == 0 or top <= value * 10  # never wastes the chart


@given(values=values, name=labels, title=labels)
def test_charts_are_well_formed_and_their_labels_are_text(values: list[int | None], name: str,
                                                          title: str) -> None:
    xs = [i / max(len(values) - 1, 1) for i in range(len(values))]
    groups = [f"{name}{i}" for i in range(len(values))]
    for chart in (step_chart(title, xs, [Series(name, values)], [(0, name), (1, name)]),
                  bar_chart(title, groups, [Series(name, values)]),
                  hbar_chart(title, [(name, v or 0) for v in values])):
        root = ET.fromstring(chart)  # well-formed: nothing a label holds breaks it
        assert root.tag == f"{SVG}svg"
        assert root.find(f"{SVG}title").text == title  # type: ignore[union-attr]
        texts = [t.text or "" for t in root.iter(f"{SVG}text")]
        assert any(name[:35] in t for t in texts)
